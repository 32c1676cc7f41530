"""German templates (layout: see en.py). Count: `{k:item}` -> "5 Äpfel".

Counted phrases stand in the nominative/accusative (plural forms are the same); dative
plurals have their own `*_dat` nouns ("in 3 Jahren"). Names have a genitive `gen`
("Annas", "Lukas'"); items a gender for `{item:ein|eine|ein}`.
"""

from xling.organism.world.vocab import LangData, Noun, T, count_sg_pl

DATA = LangData(
    code="de",
    native_digits=False,
    names=(
        Noun("Lukas", gen="Lukas'", g="m"),
        Noun("Anna", gen="Annas", g="f"),
        Noun("Felix", gen="Felix'", g="m"),
        Noun("Lena", gen="Lenas", g="f"),
        Noun("Jonas", gen="Jonas'", g="m"),
        Noun("Marie", gen="Maries", g="f"),
        Noun("Paul", gen="Pauls", g="m"),
        Noun("Lea", gen="Leas", g="f"),
    ),
    items=(
        Noun("Apfel", pl="Äpfel", g="m"),
        Noun("Bleistift", pl="Bleistifte", g="m"),
        Noun("Heft", pl="Hefte", g="n"),
        Noun("Orange", pl="Orangen", g="f"),
        Noun("Keks", pl="Kekse", g="m"),
        Noun("Luftballon", pl="Luftballons", g="m"),
    ),
    nouns={
        "cur": Noun("Euro", pl="Euro"),
        "hour": Noun("Stunde", pl="Stunden"),
        "minute": Noun("Minute", pl="Minuten"),
        "year": Noun("Jahr", pl="Jahre"),
        "year_dat": Noun("Jahr", pl="Jahren"),
        "week": Noun("Woche", pl="Wochen"),
        "day": Noun("Tag", pl="Tage"),
        "day_dat": Noun("Tag", pl="Tagen"),
        "page": Noun("Seite", pl="Seiten"),
        "egg": Noun("Ei", pl="Eier"),
        "box": Noun("Karton", pl="Kartons"),
        "pack": Noun("Packung", pl="Packungen"),
        "pencil": Noun("Bleistift", pl="Bleistifte"),
        "passenger": Noun("Fahrgast", pl="Fahrgäste"),
        "cake": Noun("Kuchen", pl="Kuchen"),
        "liter": Noun("Liter", pl="Liter"),
        "row": Noun("Reihe", pl="Reihen"),
        "tree": Noun("Baum", pl="Bäume"),
    },
    count=count_sg_pl,
    answer="Die Antwort ist {boxed}",
    templates={
        "buy_change": T(
            "{name} kauft {k:item} zu je {p:cur} und bezahlt mit einem {bill}-Euro-Schein. "
            "Wie viel Euro Wechselgeld bekommt {name}?",
            "Die {item.pl} kosten {E} Euro.",
            "Das Wechselgeld beträgt {E} Euro.",
        ),
        "buy_two_items": T(
            "{name} kauft {a:item} zu je {p:cur} und {b:item2} zu je {q:cur}. "
            "Wie viel Euro gibt {name} insgesamt aus?",
            "Die {item.pl} kosten {E} Euro.",
            "Die {item2.pl} kosten {E} Euro.",
            "Insgesamt gibt {name} {E} Euro aus.",
        ),
        "distance": T(
            "{name} fährt {t:hour} lang mit einer gleichmäßigen Geschwindigkeit von {v} km/h. "
            "Wie viele Kilometer legt {name} zurück?",
            "Die Strecke ist Geschwindigkeit mal Zeit: {E} km.",
        ),
        "travel_time": T(
            "Ein Zug fährt {d} km mit einer konstanten Geschwindigkeit von {v} km/h. "
            "Wie viele Stunden dauert die Fahrt?",
            "Die Zeit ist Strecke geteilt durch Geschwindigkeit: {E} Stunden.",
        ),
        "age_future": T(
            "{name} ist jetzt {a} Jahre alt. Wie alt ist {name} in {n:year_dat}?",
            "In {n:year_dat} ist {name} {E} Jahre alt.",
        ),
        "age_older": T(
            "{name} ist {a} Jahre alt. {name2} ist {d:year} älter als {name}. "
            "Wie alt ist {name2} in {n:year_dat}?",
            "Jetzt ist {name2} {E} Jahre alt.",
            "In {n:year_dat} ist {name2} {E} Jahre alt.",
        ),
        "share_equally": T(
            "{name} hat {N:item} und verteilt sie gleichmäßig an {k} Freunde. "
            "Wie viele {item.pl} bekommt jeder Freund?",
            "Jeder Freund bekommt {E} {item.pl}.",
        ),
        "share_remainder": T(
            "{name} hat {N:item} und möchte sie gleichmäßig an {k} Freunde verteilen, sodass "
            "jeder so viele wie möglich bekommt. Wie viele {item.pl} bleiben übrig?",
            "Jeder Freund bekommt {q} {item.pl}, zusammen sind das {E} {item.pl}.",
            "Die Anzahl der übrigen {item.pl} ist {E}.",
        ),
        "discount": T(
            "Ein Fahrrad kostet {P:cur}. Der Laden gibt darauf {d}% Rabatt. "
            "Wie viel Euro kostet das Fahrrad jetzt?",
            "Der Rabatt beträgt {E} Euro.",
            "Der neue Preis beträgt {E} Euro.",
        ),
        "hours_to_minutes": T(
            "Eine Zugfahrt dauert {h:hour} und {m:minute}. "
            "Wie viele Minuten dauert die Fahrt insgesamt?",
            "{h:hour} sind {E} Minuten.",
            "Insgesamt dauert die Fahrt {E} Minuten.",
        ),
        "weekly_savings": T(
            "{name} hat {a:cur} und spart jede Woche {s:cur}. "
            "Wie viel Euro hat {name} nach {w:week}?",
            "In {w:week} spart {name} {E} Euro.",
            "Dann hat {name} {E} Euro.",
        ),
        "rect_area": T(
            "Ein rechteckiger Garten ist {w} Meter lang und {h} Meter breit. "
            "Wie groß ist die Fläche des Gartens in Quadratmetern?",
            "Die Fläche ist Länge mal Breite: {E} Quadratmeter.",
        ),
        "rect_perimeter": T(
            "Ein rechteckiges Feld ist {w} Meter lang und {h} Meter breit. "
            "Wie groß ist der Umfang des Feldes in Metern?",
            "Länge plus Breite ergibt {E} Meter.",
            "Der Umfang ist doppelt so groß: {E} Meter.",
        ),
        "fence_cost": T(
            "Ein rechteckiger Hof ist {w} Meter lang und {h} Meter breit. Ein Meter Zaun "
            "kostet {c:cur}. Wie viel Euro kostet ein Zaun um den ganzen Hof?",
            "Länge plus Breite ergibt {E} Meter.",
            "Der Umfang des Hofes beträgt {E} Meter.",
            "Der Zaun kostet {E} Euro.",
        ),
        "eggs_market": T(
            "{name.gen} Hühner legen jeden Tag {e:egg}. {name} isst {a} davon und verwendet "
            "{b} zum Backen. Den Rest verkauft {name} für {p:cur} pro Ei. "
            "Wie viel Euro verdient {name} jeden Tag?",
            "Zum Verkaufen bleiben {E} Eier.",
            "Die Eier bringen {E} Euro ein.",
        ),
        "pages_left": T(
            "Ein Buch hat {P:page}. {name} liest jeden Tag {r:page}. "
            "Wie viele Seiten muss {name} nach {days:day_dat} noch lesen?",
            "In {days:day_dat} liest {name} {E} Seiten.",
            "Es bleiben noch {E} Seiten übrig.",
        ),
        "days_to_read": T(
            "Ein Buch hat {P:page}. {name} liest jeden Tag {r:page}. "
            "Wie viele Tage braucht {name}, um das ganze Buch zu lesen?",
            "Die Anzahl der Tage ist {E}.",
        ),
        "boxes_packs": T(
            "Ein Laden hat {b:box}. In jedem Karton sind {c:pack} Bleistifte, und jede "
            "Packung enthält {k:pencil}. Wie viele Bleistifte hat der Laden insgesamt?",
            "Die Anzahl der Packungen ist {E}.",
            "Die Anzahl der Bleistifte ist {E}.",
        ),
        "bus_passengers": T(
            "In einem Bus sitzen {a:passenger}. An der ersten Haltestelle steigen {b} "
            "Fahrgäste aus und {c} Fahrgäste ein. Wie viele Fahrgäste sind jetzt im Bus?",
            "Nachdem {b} Fahrgäste ausgestiegen sind, sind noch {E} im Bus.",
            "Nachdem {c} Fahrgäste eingestiegen sind, sind {E} im Bus.",
        ),
        "wage": T(
            "{name} verdient {w:cur} pro Stunde und arbeitet {h:hour} am Tag. "
            "Wie viel Euro verdient {name} in {days:day_dat}?",
            "An einem Tag verdient {name} {E} Euro.",
            "In {days:day_dat} verdient {name} {E} Euro.",
        ),
        "baking_flour": T(
            "{name} hat {F} Gramm Mehl. Für einen Kuchen braucht man {f} Gramm Mehl, und "
            "{name} backt {c:cake}. Wie viele Gramm Mehl bleiben übrig?",
            "Die Kuchen brauchen {E} Gramm Mehl.",
            "Es bleiben {E} Gramm Mehl übrig.",
        ),
        "kg_to_grams": T(
            "Ein Paket wiegt {a} Kilogramm und {b} Gramm. "
            "Wie viele Gramm wiegt das Paket insgesamt?",
            "{a} Kilogramm sind {E} Gramm.",
            "Das Gesamtgewicht beträgt {E} Gramm.",
        ),
        "tank_fill": T(
            "Ein Wassertank fasst {C:liter}. Es sind schon {L:liter} darin. Eine Pumpe füllt "
            "jede Minute {r:liter} nach. Wie viele Minuten dauert es, bis der Tank voll ist?",
            "Es fehlen noch {E} Liter.",
            "Die Pumpe braucht {E} Minuten.",
        ),
        "times_as_many": T(
            "{name} hat {a:item}. {name2} hat {m}-mal so viele {item.pl} wie {name}, und "
            "{name3} hat {f} {item.pl} weniger als {name2}. Wie viele {item.pl} haben die "
            "drei Kinder zusammen?",
            "{name2} hat {E} {item.pl}.",
            "{name3} hat {E} {item.pl}.",
            "Zusammen haben sie {E} {item.pl}.",
        ),
        "orchard": T(
            "Ein Bauer pflanzt {r:row} mit Bäumen. In jeder Reihe stehen {t:tree}. Jeder "
            "Baum trägt {f} Kilogramm Obst. Wie viele Kilogramm Obst tragen alle Bäume "
            "zusammen?",
            "Die Anzahl der Bäume ist {E}.",
            "Die Bäume tragen {E} Kilogramm Obst.",
        ),
        "yearly_bills": T(
            "{name} zahlt jeden Monat {m:cur} Miete und {u:cur} für Strom. "
            "Wie viel Euro zahlt {name} in einem Jahr?",
            "Jeden Monat zahlt {name} {E} Euro.",
            "In einem Jahr zahlt {name} {E} Euro.",
        ),
        "average_score": T(
            "{name} hat in drei Tests {a}, {b} und {c} Punkte erreicht. "
            "Wie hoch ist die durchschnittliche Punktzahl?",
            "Die Summe der Punkte ist {E}.",
            "Der Durchschnitt ist {E}.",
        ),
        "give_away": T(
            "{name} hat {N:item}. {name} gibt {a} davon an {name2} und {b} davon an {name3}. "
            "Wie viele {item.pl} hat {name} noch?",
            "{name} hat noch {E} {item.pl}.",
        ),
        "unit_price": T(
            "{name} bezahlt {T:cur} für {k:item}. Alle {item.pl} kosten gleich viel. "
            "Wie viel Euro kostet {item:ein|eine|ein} {item.sg}?",
            "{item:Ein|Eine|Ein} {item.sg} kostet {E} Euro.",
        ),
        "profit": T(
            "{name} kauft {k:item} für je {c:cur} und verkauft alle für je {s:cur}. "
            "Wie viel Euro Gewinn macht {name}?",
            "Beim Verkauf bekommt {name} {E} Euro.",
            "Beim Einkauf hat {name} {E} Euro bezahlt.",
            "Der Gewinn beträgt {E} Euro.",
        ),
        "weeks_to_days": T(
            "Ein Urlaub dauert {w:week} und {days:day}. Wie viele Tage dauert der Urlaub?",
            "{w:week} sind {E} Tage.",
            "Insgesamt dauert der Urlaub {E} Tage.",
        ),
        "walking_week": T(
            "{name} geht an jedem Werktag {a} Kilometer zu Fuß und an jedem Tag des "
            "Wochenendes {b} Kilometer. Wie viele Kilometer geht {name} in einer Woche?",
            "An den Werktagen geht {name} {E} Kilometer.",
            "Am Wochenende geht {name} {E} Kilometer.",
            "In einer Woche geht {name} {E} Kilometer.",
        ),
        "fuel_cost": T(
            "Ein Auto fährt mit einem Liter Benzin {k} Kilometer. Die Fahrt ist {d} "
            "Kilometer lang, und ein Liter Benzin kostet {p:cur}. Wie viel Euro kostet das "
            "Benzin für die Fahrt?",
            "Das Auto braucht {E} Liter Benzin.",
            "Das Benzin kostet {E} Euro.",
        ),
    },
)
