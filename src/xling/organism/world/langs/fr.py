"""French templates (layout: see en.py). Count: `{k:item}` -> "5 pommes".

Items carry a gender (`{item:un|une}`) and `de`, the partitive after "combien"
("de pommes", "d'oranges"). Questions avoid pronoun inversion on people (no il/elle), so
no sentence depends on the gender of a name.
"""

from xling.organism.world.vocab import LangData, Noun, T, count_sg_pl

_NAMES = ("Pierre", "Camille", "Louis", "Chloé", "Thomas", "Manon", "Julien", "Sophie")

DATA = LangData(
    code="fr",
    native_digits=False,
    names=tuple(Noun(n, g="mf"[i % 2]) for i, n in enumerate(_NAMES)),
    items=(
        Noun("pomme", pl="pommes", de="de pommes", g="f"),
        Noun("crayon", pl="crayons", de="de crayons", g="m"),
        Noun("cahier", pl="cahiers", de="de cahiers", g="m"),
        Noun("orange", pl="oranges", de="d'oranges", g="f"),
        Noun("biscuit", pl="biscuits", de="de biscuits", g="m"),
        Noun("ballon", pl="ballons", de="de ballons", g="m"),
    ),
    nouns={
        "cur": Noun("euro", pl="euros"),
        "hour": Noun("heure", pl="heures"),
        "minute": Noun("minute", pl="minutes"),
        "year": Noun("an", pl="ans"),
        "week": Noun("semaine", pl="semaines"),
        "day": Noun("jour", pl="jours"),
        "page": Noun("page", pl="pages"),
        "egg": Noun("œuf", pl="œufs"),
        "box": Noun("carton", pl="cartons"),
        "pack": Noun("paquet", pl="paquets"),
        "pencil": Noun("crayon", pl="crayons"),
        "passenger": Noun("passager", pl="passagers"),
        "cake": Noun("gâteau", pl="gâteaux"),
        "liter": Noun("litre", pl="litres"),
        "row": Noun("rangée", pl="rangées"),
        "tree": Noun("arbre", pl="arbres"),
    },
    count=count_sg_pl,
    answer="La réponse est {boxed}",
    templates={
        "buy_change": T(
            "{name} achète {k:item} à {p:cur} {item:chacun|chacune} et paie avec un billet de "
            "{bill:cur}. Combien d'euros de monnaie rend-on à {name} ?",
            "Les {item.pl} coûtent {E} euros.",
            "La monnaie rendue est de {E} euros.",
        ),
        "buy_two_items": T(
            "{name} achète {a:item} à {p:cur} {item:chacun|chacune} et {b:item2} à {q:cur} "
            "{item2:chacun|chacune}. Combien d'euros dépense {name} en tout ?",
            "Les {item.pl} coûtent {E} euros.",
            "Les {item2.pl} coûtent {E} euros.",
            "En tout, {name} dépense {E} euros.",
        ),
        "distance": T(
            "{name} roule en voiture à une vitesse constante de {v} km/h pendant {t:hour}. "
            "Combien de kilomètres parcourt {name} ?",
            "La distance est égale à la vitesse multipliée par le temps : {E} km.",
        ),
        "travel_time": T(
            "Un train parcourt {d} km à une vitesse constante de {v} km/h. "
            "Combien d'heures dure le trajet ?",
            "Le temps est égal à la distance divisée par la vitesse : {E} heures.",
        ),
        "age_future": T(
            "{name} a {a:year} aujourd'hui. Quel âge aura {name} dans {n:year} ?",
            "Dans {n:year}, {name} aura {E} ans.",
        ),
        "age_older": T(
            "{name} a {a:year}. {name2} a {d:year} de plus que {name}. "
            "Quel âge aura {name2} dans {n:year} ?",
            "Aujourd'hui, {name2} a {E} ans.",
            "Dans {n:year}, {name2} aura {E} ans.",
        ),
        "share_equally": T(
            "{name} a {N:item} et les partage équitablement entre {k} amis. "
            "Combien {item.de} reçoit chaque ami ?",
            "Chaque ami reçoit {E} {item.pl}.",
        ),
        "share_remainder": T(
            "{name} a {N:item} et veut les partager équitablement entre {k} amis, en donnant "
            "à chacun le plus possible. Combien {item.de} reste-t-il ?",
            "Chaque ami reçoit {q} {item.pl}, donc on distribue {E} {item.pl} en tout.",
            "Le nombre {item.de} qui restent est {E}.",
        ),
        "discount": T(
            "Un vélo coûte {P:cur}. Le magasin fait une remise de {d} % sur ce vélo. "
            "Quel est le nouveau prix du vélo en euros ?",
            "La remise est de {E} euros.",
            "Le nouveau prix est de {E} euros.",
        ),
        "hours_to_minutes": T(
            "Un voyage en train dure {h:hour} et {m:minute}. "
            "Combien de minutes dure le voyage au total ?",
            "{h:hour}, cela fait {E} minutes.",
            "Au total, le voyage dure {E} minutes.",
        ),
        "weekly_savings": T(
            "{name} a {a:cur} et met de côté {s:cur} chaque semaine. "
            "Combien d'euros aura {name} après {w:week} ?",
            "En {w:week}, {name} met de côté {E} euros.",
            "Ensuite, {name} aura {E} euros.",
        ),
        "rect_area": T(
            "Un jardin rectangulaire mesure {w} mètres de long et {h} mètres de large. "
            "Quelle est l'aire du jardin en mètres carrés ?",
            "L'aire est la longueur multipliée par la largeur : {E} mètres carrés.",
        ),
        "rect_perimeter": T(
            "Un champ rectangulaire mesure {w} mètres de long et {h} mètres de large. "
            "Quel est le périmètre du champ en mètres ?",
            "La longueur plus la largeur font {E} mètres.",
            "Le périmètre est le double : {E} mètres.",
        ),
        "fence_cost": T(
            "Une cour rectangulaire mesure {w} mètres de long et {h} mètres de large. Un "
            "mètre de clôture coûte {c:cur}. Combien d'euros coûte une clôture autour de "
            "toute la cour ?",
            "La longueur plus la largeur font {E} mètres.",
            "Le périmètre de la cour est de {E} mètres.",
            "La clôture coûte {E} euros.",
        ),
        "eggs_market": T(
            "Les poules de {name} pondent {e:egg} chaque jour. {name} en mange {a} et en "
            "utilise {b} pour faire des gâteaux. Le reste est vendu {p:cur} l'œuf. "
            "Combien d'euros gagne {name} chaque jour ?",
            "Il reste {E} œufs à vendre.",
            "Les œufs rapportent {E} euros.",
        ),
        "pages_left": T(
            "Un livre a {P:page}. {name} lit {r:page} par jour. "
            "Combien de pages reste-t-il à lire après {days:day} ?",
            "En {days:day}, {name} lit {E} pages.",
            "Il reste {E} pages à lire.",
        ),
        "days_to_read": T(
            "Un livre a {P:page}. {name} lit {r:page} par jour. "
            "Combien de jours faut-il à {name} pour lire tout le livre ?",
            "Le nombre de jours nécessaires est {E}.",
        ),
        "boxes_packs": T(
            "Un magasin a {b:box}. Chaque carton contient {c:pack} de crayons, et chaque "
            "paquet contient {k:pencil}. Combien de crayons le magasin a-t-il en tout ?",
            "Le nombre de paquets est {E}.",
            "Le nombre de crayons est {E}.",
        ),
        "bus_passengers": T(
            "Un bus transporte {a:passenger}. Au premier arrêt, {b} passagers descendent et "
            "{c} passagers montent. Combien de passagers y a-t-il maintenant dans le bus ?",
            "Après la descente de {b} passagers, il en reste {E} dans le bus.",
            "Après la montée de {c} passagers, il y en a {E} dans le bus.",
        ),
        "wage": T(
            "{name} gagne {w:cur} de l'heure et travaille {h:hour} par jour. "
            "Combien d'euros gagne {name} en {days:day} ?",
            "En une journée, {name} gagne {E} euros.",
            "En {days:day}, {name} gagne {E} euros.",
        ),
        "baking_flour": T(
            "{name} a {F} grammes de farine. Un gâteau demande {f} grammes de farine, et "
            "{name} prépare {c:cake}. Combien de grammes de farine reste-t-il ?",
            "Les gâteaux demandent {E} grammes de farine.",
            "Il reste {E} grammes de farine.",
        ),
        "kg_to_grams": T(
            "Un colis pèse {a} kilogrammes et {b} grammes. "
            "Combien de grammes pèse le colis en tout ?",
            "{a} kilogrammes, cela fait {E} grammes.",
            "Le poids total est de {E} grammes.",
        ),
        "tank_fill": T(
            "Une citerne peut contenir {C:liter} d'eau. Elle contient déjà {L:liter}. Une "
            "pompe ajoute {r:liter} par minute. Combien de minutes faut-il pour remplir la "
            "citerne ?",
            "Il manque encore {E} litres.",
            "La pompe a besoin de {E} minutes.",
        ),
        "times_as_many": T(
            "{name} a {a:item}. {name2} a {m} fois plus {item.de} que {name}, et {name3} en a "
            "{f} de moins que {name2}. Combien {item.de} les trois enfants ont-ils en tout ?",
            "{name2} a {E} {item.pl}.",
            "{name3} a {E} {item.pl}.",
            "En tout, ils ont {E} {item.pl}.",
        ),
        "orchard": T(
            "Un agriculteur plante {r:row} d'arbres, avec {t:tree} dans chaque rangée. Chaque "
            "arbre donne {f} kilogrammes de fruits. Combien de kilogrammes de fruits donnent "
            "tous les arbres ?",
            "Le nombre d'arbres est {E}.",
            "Les arbres donnent {E} kilogrammes de fruits.",
        ),
        "yearly_bills": T(
            "Chaque mois, {name} paie {m:cur} de loyer et {u:cur} d'électricité. "
            "Combien d'euros paie {name} en un an ?",
            "Chaque mois, {name} paie {E} euros.",
            "En un an, {name} paie {E} euros.",
        ),
        "average_score": T(
            "{name} a obtenu {a}, {b} et {c} points à trois contrôles. "
            "Quelle est la moyenne de {name} ?",
            "Le total des points est {E}.",
            "La moyenne est {E}.",
        ),
        "give_away": T(
            "{name} a {N:item}. {name} en donne {a} à {name2} et {b} à {name3}. "
            "Combien {item.de} reste-t-il à {name} ?",
            "Il reste {E} {item.pl} à {name}.",
        ),
        "unit_price": T(
            "{name} paie {T:cur} pour {k:item}. {item:Tous|Toutes} les {item.pl} ont le même "
            "prix. Combien d'euros coûte {item:un|une} {item.sg} ?",
            "{item:Un|Une} {item.sg} coûte {E} euros.",
        ),
        "profit": T(
            "{name} achète {k:item} à {c:cur} l'unité et les revend {item:tous|toutes} à "
            "{s:cur} l'unité. Combien d'euros de bénéfice fait {name} ?",
            "La vente rapporte {E} euros.",
            "L'achat a coûté {E} euros.",
            "Le bénéfice est de {E} euros.",
        ),
        "weeks_to_days": T(
            "Les vacances durent {w:week} et {days:day}. "
            "Combien de jours durent les vacances au total ?",
            "{w:week}, cela fait {E} jours.",
            "Au total, les vacances durent {E} jours.",
        ),
        "walking_week": T(
            "{name} marche {a} kilomètres chaque jour de la semaine et {b} kilomètres chaque "
            "jour du week-end. Combien de kilomètres parcourt {name} à pied en une semaine ?",
            "Pendant les jours de semaine, {name} marche {E} kilomètres.",
            "Pendant le week-end, {name} marche {E} kilomètres.",
            "En une semaine, {name} marche {E} kilomètres.",
        ),
        "fuel_cost": T(
            "Une voiture parcourt {k} kilomètres avec un litre d'essence. Le trajet fait {d} "
            "kilomètres et l'essence coûte {p:cur} le litre. Combien d'euros coûte l'essence "
            "pour ce trajet ?",
            "La voiture a besoin de {E} litres d'essence.",
            "L'essence coûte {E} euros.",
        ),
    },
)
