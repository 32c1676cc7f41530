"""Spanish templates (layout: see en.py). Count: `{k:item}` -> "5 manzanas".

Items carry grammatical gender for `{item:uno|una}`-style agreement and `art` (the plural
with its article: "las manzanas").
"""

from xling.organism.world.vocab import LangData, Noun, T, count_sg_pl

_NAMES = ("Pablo", "Lucía", "Diego", "Carmen", "Javier", "Sofía", "Miguel", "Elena")

DATA = LangData(
    code="es",
    native_digits=False,
    names=tuple(Noun(n, g="mf"[i % 2]) for i, n in enumerate(_NAMES)),
    items=(
        Noun("manzana", pl="manzanas", art="las manzanas", g="f"),
        Noun("lápiz", pl="lápices", art="los lápices", g="m"),
        Noun("cuaderno", pl="cuadernos", art="los cuadernos", g="m"),
        Noun("naranja", pl="naranjas", art="las naranjas", g="f"),
        Noun("galleta", pl="galletas", art="las galletas", g="f"),
        Noun("globo", pl="globos", art="los globos", g="m"),
    ),
    nouns={
        "cur": Noun("euro", pl="euros"),
        "hour": Noun("hora", pl="horas"),
        "minute": Noun("minuto", pl="minutos"),
        "year": Noun("año", pl="años"),
        "week": Noun("semana", pl="semanas"),
        "day": Noun("día", pl="días"),
        "page": Noun("página", pl="páginas"),
        "egg": Noun("huevo", pl="huevos"),
        "box": Noun("caja", pl="cajas"),
        "pack": Noun("paquete", pl="paquetes"),
        "pencil": Noun("lápiz", pl="lápices"),
        "passenger": Noun("pasajero", pl="pasajeros"),
        "cake": Noun("pastel", pl="pasteles"),
        "liter": Noun("litro", pl="litros"),
        "row": Noun("fila", pl="filas"),
        "tree": Noun("árbol", pl="árboles"),
    },
    count=count_sg_pl,
    answer="La respuesta es {boxed}",
    templates={
        "buy_change": T(
            "{name} compra {k:item} a {p:cur} cada {item:uno|una} y paga con un billete de "
            "{bill:cur}. ¿Cuántos euros de cambio recibe {name}?",
            "En total, {item.art} cuestan {E} euros.",
            "El cambio es de {E} euros.",
        ),
        "buy_two_items": T(
            "{name} compra {a:item} a {p:cur} cada {item:uno|una} y {b:item2} a {q:cur} "
            "cada {item2:uno|una}. ¿Cuántos euros gasta {name} en total?",
            "Por {item.art} paga {E} euros.",
            "Por {item2.art} paga {E} euros.",
            "En total, {name} gasta {E} euros.",
        ),
        "distance": T(
            "{name} conduce a una velocidad constante de {v} km/h durante {t:hour}. "
            "¿Cuántos kilómetros recorre {name}?",
            "La distancia es la velocidad por el tiempo: {E} km.",
        ),
        "travel_time": T(
            "Un tren recorre {d} km a una velocidad constante de {v} km/h. "
            "¿Cuántas horas dura el viaje?",
            "El tiempo es la distancia dividida entre la velocidad: {E} horas.",
        ),
        "age_future": T(
            "{name} tiene {a:year} ahora. ¿Cuántos años tendrá {name} dentro de {n:year}?",
            "Dentro de {n:year}, {name} tendrá {E} años.",
        ),
        "age_older": T(
            "{name} tiene {a:year}. {name2} es {d:year} mayor que {name}. "
            "¿Cuántos años tendrá {name2} dentro de {n:year}?",
            "Ahora {name2} tiene {E} años.",
            "Dentro de {n:year}, {name2} tendrá {E} años.",
        ),
        "share_equally": T(
            "{name} tiene {N:item} y {item:los|las} reparte en partes iguales entre {k} "
            "amigos. ¿{item:Cuántos|Cuántas} {item.pl} recibe cada amigo?",
            "Cada amigo recibe {E} {item.pl}.",
        ),
        "share_remainder": T(
            "{name} tiene {N:item} y quiere repartir{item:los|las} en partes iguales entre "
            "{k} amigos, dando a cada uno la mayor cantidad posible. "
            "¿{item:Cuántos|Cuántas} {item.pl} sobran?",
            "Cada amigo recibe {q} {item.pl}, así que se reparten {E} {item.pl}.",
            "El número de {item.pl} que sobran es {E}.",
        ),
        "discount": T(
            "Una bicicleta cuesta {P:cur}. La tienda ofrece un descuento del {d}%. "
            "¿Cuál es el nuevo precio de la bicicleta en euros?",
            "El descuento es de {E} euros.",
            "El nuevo precio es de {E} euros.",
        ),
        "hours_to_minutes": T(
            "Un viaje en tren dura {h:hour} y {m:minute}. ¿Cuántos minutos dura el viaje en total?",
            "{h:hour} son {E} minutos.",
            "En total, el viaje dura {E} minutos.",
        ),
        "weekly_savings": T(
            "{name} tiene {a:cur} y ahorra {s:cur} cada semana. "
            "¿Cuántos euros tendrá {name} después de {w:week}?",
            "En {w:week}, {name} ahorra {E} euros.",
            "Entonces {name} tendrá {E} euros.",
        ),
        "rect_area": T(
            "Un jardín rectangular mide {w} metros de largo y {h} metros de ancho. "
            "¿Cuál es el área del jardín en metros cuadrados?",
            "El área es el largo por el ancho: {E} metros cuadrados.",
        ),
        "rect_perimeter": T(
            "Un campo rectangular mide {w} metros de largo y {h} metros de ancho. "
            "¿Cuál es el perímetro del campo en metros?",
            "El largo más el ancho es {E} metros.",
            "El perímetro es el doble: {E} metros.",
        ),
        "fence_cost": T(
            "Un patio rectangular mide {w} metros de largo y {h} metros de ancho. La valla "
            "cuesta {c:cur} por metro. ¿Cuántos euros cuesta poner una valla alrededor de "
            "todo el patio?",
            "El largo más el ancho es {E} metros.",
            "El perímetro del patio es {E} metros.",
            "La valla cuesta {E} euros.",
        ),
        "eggs_market": T(
            "Las gallinas de {name} ponen {e:egg} cada día. {name} se come {a} y usa {b} "
            "para hornear. El resto lo vende a {p:cur} cada huevo. "
            "¿Cuántos euros gana {name} cada día?",
            "Quedan {E} huevos para vender.",
            "Con los huevos gana {E} euros.",
        ),
        "pages_left": T(
            "Un libro tiene {P:page}. {name} lee {r:page} cada día. "
            "¿Cuántas páginas le quedan por leer después de {days:day}?",
            "En {days:day}, {name} lee {E} páginas.",
            "Le quedan por leer {E} páginas.",
        ),
        "days_to_read": T(
            "Un libro tiene {P:page}. {name} lee {r:page} cada día. "
            "¿Cuántos días necesita {name} para leer todo el libro?",
            "El número de días necesarios es {E}.",
        ),
        "boxes_packs": T(
            "Una tienda tiene {b:box}. Cada caja contiene {c:pack} de lápices y cada paquete "
            "tiene {k:pencil}. ¿Cuántos lápices tiene la tienda en total?",
            "El número de paquetes es {E}.",
            "El número de lápices es {E}.",
        ),
        "bus_passengers": T(
            "Un autobús lleva {a:passenger}. En la primera parada bajan {b} pasajeros y suben "
            "{c} pasajeros. ¿Cuántos pasajeros hay ahora en el autobús?",
            "Después de que bajan {b} pasajeros, quedan {E} en el autobús.",
            "Después de que suben {c} pasajeros, hay {E} en el autobús.",
        ),
        "wage": T(
            "{name} gana {w:cur} por hora y trabaja {h:hour} al día. "
            "¿Cuántos euros gana {name} en {days:day}?",
            "En un día, {name} gana {E} euros.",
            "En {days:day}, {name} gana {E} euros.",
        ),
        "baking_flour": T(
            "{name} tiene {F} gramos de harina. Cada pastel necesita {f} gramos de harina y "
            "{name} hornea {c:cake}. ¿Cuántos gramos de harina le quedan?",
            "Los pasteles necesitan {E} gramos de harina.",
            "Le quedan {E} gramos de harina.",
        ),
        "kg_to_grams": T(
            "Un paquete pesa {a} kilogramos y {b} gramos. "
            "¿Cuántos gramos pesa el paquete en total?",
            "{a} kilogramos son {E} gramos.",
            "El peso total es de {E} gramos.",
        ),
        "tank_fill": T(
            "Un depósito de agua tiene capacidad para {C:liter}. Ya contiene {L:liter}. "
            "Una bomba añade {r:liter} cada minuto. ¿Cuántos minutos tarda en llenarse el "
            "depósito?",
            "Faltan {E} litros para llenar el depósito.",
            "La bomba necesita {E} minutos.",
        ),
        "times_as_many": T(
            "{name} tiene {a:item}. {name2} tiene {m} veces más {item.pl} que {name}, y "
            "{name3} tiene {f} {item.pl} menos que {name2}. ¿{item:Cuántos|Cuántas} "
            "{item.pl} tienen los tres niños en total?",
            "{name2} tiene {E} {item.pl}.",
            "{name3} tiene {E} {item.pl}.",
            "Entre los tres tienen {E} {item.pl}.",
        ),
        "orchard": T(
            "Un agricultor planta {r:row} de árboles, con {t:tree} en cada fila. Cada árbol "
            "da {f} kilogramos de fruta. ¿Cuántos kilogramos de fruta dan todos los árboles?",
            "El número de árboles es {E}.",
            "Los árboles dan {E} kilogramos de fruta.",
        ),
        "yearly_bills": T(
            "Cada mes, {name} paga {m:cur} de alquiler y {u:cur} de electricidad. "
            "¿Cuántos euros paga {name} en un año?",
            "Cada mes, {name} paga {E} euros.",
            "En un año, {name} paga {E} euros.",
        ),
        "average_score": T(
            "{name} sacó {a}, {b} y {c} puntos en tres exámenes. "
            "¿Cuál es la puntuación media de {name}?",
            "La suma de los puntos es {E}.",
            "La puntuación media es {E}.",
        ),
        "give_away": T(
            "{name} tiene {N:item}. Le da {a} a {name2} y {b} a {name3}. "
            "¿{item:Cuántos|Cuántas} {item.pl} le quedan a {name}?",
            "A {name} le quedan {E} {item.pl}.",
        ),
        "unit_price": T(
            "{name} paga {T:cur} por {k:item}. {item:Todos|Todas} {item.art} cuestan lo "
            "mismo. ¿Cuántos euros cuesta {item:un|una} {item.sg}?",
            "{item:Un|Una} {item.sg} cuesta {E} euros.",
        ),
        "profit": T(
            "{name} compra {k:item} a {c:cur} cada {item:uno|una} y {item:los|las} vende "
            "{item:todos|todas} a {s:cur} cada {item:uno|una}. "
            "¿Cuántos euros de ganancia obtiene {name}?",
            "Con la venta, {name} recibe {E} euros.",
            "En la compra, {name} pagó {E} euros.",
            "La ganancia es de {E} euros.",
        ),
        "weeks_to_days": T(
            "Unas vacaciones duran {w:week} y {days:day}. "
            "¿Cuántos días duran las vacaciones en total?",
            "{w:week} son {E} días.",
            "En total, las vacaciones duran {E} días.",
        ),
        "walking_week": T(
            "{name} camina {a} kilómetros cada día laborable y {b} kilómetros cada día del "
            "fin de semana. ¿Cuántos kilómetros camina {name} en una semana?",
            "En los días laborables, {name} camina {E} kilómetros.",
            "En el fin de semana, {name} camina {E} kilómetros.",
            "En una semana, {name} camina {E} kilómetros.",
        ),
        "fuel_cost": T(
            "Un coche recorre {k} kilómetros con un litro de gasolina. El viaje es de {d} "
            "kilómetros y la gasolina cuesta {p:cur} por litro. ¿Cuántos euros cuesta la "
            "gasolina del viaje?",
            "El coche necesita {E} litros de gasolina.",
            "La gasolina cuesta {E} euros.",
        ),
    },
)
