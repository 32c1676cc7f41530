"""Swahili templates (layout: see en.py). Count: `{k:item}` -> "machungwa 5" (noun, then the
number). Items carry `ngapi`, the "how many" form agreeing with their noun class
("machungwa mangapi", "penseli ngapi"); other sentences keep the item out of positions
that need class agreement. Prices are in shilingi.
"""

from xling.organism.world.vocab import LangData, Noun, T


def _count(value: int, digits: str, noun: Noun) -> str:
    return f"{noun.sg if value == 1 else noun.pl} {digits}"


_NAMES = ("Juma", "Amina", "Baraka", "Neema", "Hamisi", "Zawadi", "Musa", "Rehema")

DATA = LangData(
    code="sw",
    native_digits=False,
    names=tuple(Noun(n, g="mf"[i % 2]) for i, n in enumerate(_NAMES)),
    items=(
        Noun("tufaha", pl="matufaha", ngapi="mangapi"),
        Noun("penseli", pl="penseli", ngapi="ngapi"),
        Noun("daftari", pl="madaftari", ngapi="mangapi"),
        Noun("chungwa", pl="machungwa", ngapi="mangapi"),
        Noun("biskuti", pl="biskuti", ngapi="ngapi"),
        Noun("puto", pl="maputo", ngapi="mangapi"),
    ),
    nouns={},
    count=_count,
    answer="Kwa hiyo, jibu ni {boxed}",
    templates={
        "buy_change": T(
            "{name} ananunua {k:item} kwa shilingi {p} kila moja na analipa kwa noti ya "
            "shilingi {bill}. {name} atapata chenji ya shilingi ngapi?",
            "Gharama ya {item.pl} ni shilingi {E}.",
            "Chenji ni shilingi {E}.",
        ),
        "buy_two_items": T(
            "{name} ananunua {a:item} kwa shilingi {p} kila moja na {b:item2} kwa shilingi "
            "{q} kila moja. {name} anatumia shilingi ngapi kwa jumla?",
            "Gharama ya {item.pl} ni shilingi {E}.",
            "Gharama ya {item2.pl} ni shilingi {E}.",
            "Kwa jumla, {name} anatumia shilingi {E}.",
        ),
        "distance": T(
            "{name} anaendesha gari kwa kasi isiyobadilika ya kilomita {v} kwa saa, kwa muda "
            "wa saa {t}. {name} anasafiri kilomita ngapi?",
            "Umbali ni kasi mara muda: kilomita {E}.",
        ),
        "travel_time": T(
            "Treni inasafiri umbali wa kilomita {d} kwa kasi isiyobadilika ya kilomita {v} "
            "kwa saa. Safari hiyo inachukua saa ngapi?",
            "Muda ni umbali ukigawanywa kwa kasi: saa {E}.",
        ),
        "age_future": T(
            "{name} ana umri wa miaka {a} sasa. Baada ya miaka {n}, {name} atakuwa na umri "
            "wa miaka mingapi?",
            "Baada ya miaka {n}, {name} atakuwa na umri wa miaka {E}.",
        ),
        "age_older": T(
            "{name} ana umri wa miaka {a}. {name2} ni mkubwa kuliko {name} kwa miaka {d}. "
            "Baada ya miaka {n}, {name2} atakuwa na umri wa miaka mingapi?",
            "Sasa {name2} ana umri wa miaka {E}.",
            "Baada ya miaka {n}, {name2} atakuwa na umri wa miaka {E}.",
        ),
        "share_equally": T(
            "{name} ana {N:item} na anawagawia marafiki zake {k} kwa usawa. "
            "Kila rafiki anapata {item.pl} {item.ngapi}?",
            "Kila rafiki anapata idadi hii: {E}.",
        ),
        "share_remainder": T(
            "{name} ana {N:item} na anataka kuwagawia marafiki zake {k} kwa usawa, ili kila "
            "mmoja apate kadiri iwezekanavyo. Salio ni {item.pl} {item.ngapi}?",
            "Kila rafiki anapata {q}, kwa hiyo wanagawiwa jumla ya {E}.",
            "Salio ni {E}.",
        ),
        "discount": T(
            "Baiskeli inauzwa kwa shilingi {P}. Duka linatoa punguzo la {d}% kwa baiskeli "
            "hiyo. Bei mpya ya baiskeli ni shilingi ngapi?",
            "Punguzo ni shilingi {E}.",
            "Bei mpya ni shilingi {E}.",
        ),
        "hours_to_minutes": T(
            "Safari ya treni inachukua saa {h} na dakika {m}. "
            "Safari hiyo inachukua dakika ngapi kwa jumla?",
            "Saa {h} ni sawa na dakika {E}.",
            "Kwa jumla, safari inachukua dakika {E}.",
        ),
        "weekly_savings": T(
            "{name} ana shilingi {a} na anaweka akiba ya shilingi {s} kila wiki. "
            "Baada ya wiki {w}, {name} atakuwa na shilingi ngapi?",
            "Kwa wiki {w}, {name} anaweka akiba ya shilingi {E}.",
            "Kisha {name} atakuwa na shilingi {E}.",
        ),
        "rect_area": T(
            "Bustani yenye umbo la mstatili ina urefu wa mita {w} na upana wa mita {h}. "
            "Eneo la bustani hiyo ni mita za mraba ngapi?",
            "Eneo ni urefu mara upana: mita za mraba {E}.",
        ),
        "rect_perimeter": T(
            "Shamba lenye umbo la mstatili lina urefu wa mita {w} na upana wa mita {h}. "
            "Mzunguko wa shamba hilo ni mita ngapi?",
            "Urefu pamoja na upana ni mita {E}.",
            "Mzunguko ni mara mbili ya jumla hiyo: mita {E}.",
        ),
        "fence_cost": T(
            "Uwanja wenye umbo la mstatili una urefu wa mita {w} na upana wa mita {h}. Uzio "
            "unagharimu shilingi {c} kwa kila mita. Itagharimu shilingi ngapi kujenga uzio "
            "kuzunguka uwanja wote?",
            "Urefu pamoja na upana ni mita {E}.",
            "Mzunguko wa uwanja ni mita {E}.",
            "Gharama ya uzio ni shilingi {E}.",
        ),
        "eggs_market": T(
            "Kuku wa {name} hutaga mayai {e} kila siku. {name} anakula mayai {a} na anatumia "
            "mayai {b} kuoka keki. Anauza mayai yaliyobaki kwa shilingi {p} kila yai. "
            "{name} anapata shilingi ngapi kila siku?",
            "Mayai ya kuuza ni {E}.",
            "Mapato ni shilingi {E}.",
        ),
        "pages_left": T(
            "Kitabu kina kurasa {P}. {name} anasoma kurasa {r} kila siku. "
            "Baada ya siku {days}, zitabaki kurasa ngapi za kusoma?",
            "Kwa siku {days}, {name} anasoma kurasa {E}.",
            "Kurasa zilizobaki ni {E}.",
        ),
        "days_to_read": T(
            "Kitabu kina kurasa {P}. {name} anasoma kurasa {r} kila siku. "
            "{name} atahitaji siku ngapi kusoma kitabu chote?",
            "Idadi ya siku zinazohitajika ni {E}.",
        ),
        "boxes_packs": T(
            "Duka lina masanduku {b}. Kila sanduku lina pakiti {c} za penseli, na kila pakiti "
            "ina penseli {k}. Duka lina penseli ngapi kwa jumla?",
            "Idadi ya pakiti ni {E}.",
            "Idadi ya penseli ni {E}.",
        ),
        "bus_passengers": T(
            "Basi lina abiria {a}. Katika kituo cha kwanza, abiria {b} wanashuka na abiria "
            "{c} wanapanda. Sasa kuna abiria wangapi ndani ya basi?",
            "Baada ya abiria {b} kushuka, wanabaki abiria {E}.",
            "Baada ya abiria {c} kupanda, kuna abiria {E}.",
        ),
        "wage": T(
            "{name} analipwa shilingi {w} kwa saa na anafanya kazi saa {h} kwa siku. "
            "{name} atapata shilingi ngapi kwa siku {days}?",
            "Kwa siku moja, {name} anapata shilingi {E}.",
            "Kwa siku {days}, {name} anapata shilingi {E}.",
        ),
        "baking_flour": T(
            "{name} ana gramu {F} za unga. Keki moja inahitaji gramu {f} za unga, na {name} "
            "anaoka keki {c}. Zitabaki gramu ngapi za unga?",
            "Keki zote zinahitaji gramu {E} za unga.",
            "Unga uliobaki ni gramu {E}.",
        ),
        "kg_to_grams": T(
            "Kifurushi kina uzito wa kilo {a} na gramu {b}. "
            "Uzito wa kifurushi hicho ni gramu ngapi kwa jumla?",
            "Kilo {a} ni sawa na gramu {E}.",
            "Uzito wote ni gramu {E}.",
        ),
        "tank_fill": T(
            "Tangi la maji linaweza kujaa lita {C}. Tayari lina lita {L} za maji. Pampu "
            "inaongeza lita {r} kila dakika. Itachukua dakika ngapi kujaza tangi?",
            "Zinahitajika lita {E} zaidi.",
            "Pampu inahitaji dakika {E}.",
        ),
        "times_as_many": T(
            "{name} ana {a:item}. {name2} ana {item.pl} mara {m} ya idadi aliyo nayo {name}, "
            "na {name3} ana idadi iliyo pungufu kwa {f} kuliko ya {name2}. Watoto hao watatu wana "
            "{item.pl} {item.ngapi} kwa jumla?",
            "{name2} ana idadi hii: {E}.",
            "{name3} ana idadi hii: {E}.",
            "Kwa jumla, watoto watatu wana {E}.",
        ),
        "orchard": T(
            "Mkulima anapanda safu {r} za miti, na kila safu ina miti {t}. Kila mti unatoa "
            "kilo {f} za matunda. Miti yote inatoa kilo ngapi za matunda?",
            "Idadi ya miti ni {E}.",
            "Miti yote inatoa kilo {E} za matunda.",
        ),
        "yearly_bills": T(
            "Kila mwezi {name} analipa shilingi {m} za kodi ya nyumba na shilingi {u} za "
            "umeme. {name} analipa shilingi ngapi kwa mwaka mmoja?",
            "Kila mwezi, {name} analipa shilingi {E}.",
            "Kwa mwaka mmoja, {name} analipa shilingi {E}.",
        ),
        "average_score": T(
            "{name} alipata alama {a}, {b} na {c} katika mitihani mitatu. "
            "Wastani wa alama za {name} ni upi?",
            "Jumla ya alama ni {E}.",
            "Wastani wa alama ni {E}.",
        ),
        "give_away": T(
            "{name} ana {N:item}. {name} anampa {name2} {a} na anampa {name3} {b}. "
            "{name} amebaki na {item.pl} {item.ngapi}?",
            "{name} amebaki na idadi hii: {E}.",
        ),
        "unit_price": T(
            "{name} analipa shilingi {T} kwa {k:item}. Bei ya kila moja ni sawa. "
            "Bei ya {item.sg} moja ni shilingi ngapi?",
            "Bei ya {item.sg} moja ni shilingi {E}.",
        ),
        "profit": T(
            "{name} ananunua {k:item} kwa shilingi {c} kila moja, na anauza kila moja kwa "
            "shilingi {s}. {name} anapata faida ya shilingi ngapi?",
            "Mapato ya mauzo ni shilingi {E}.",
            "Gharama ya kununua ni shilingi {E}.",
            "Faida ni shilingi {E}.",
        ),
        "weeks_to_days": T(
            "Likizo inachukua wiki {w} na siku {days}. Likizo hiyo inachukua siku ngapi kwa jumla?",
            "Wiki {w} ni sawa na siku {E}.",
            "Kwa jumla, likizo inachukua siku {E}.",
        ),
        "walking_week": T(
            "{name} anatembea kilomita {a} kila siku ya kazi na kilomita {b} kila siku ya "
            "mwisho wa wiki. {name} anatembea kilomita ngapi kwa wiki moja?",
            "Katika siku za kazi, {name} anatembea kilomita {E}.",
            "Mwishoni mwa wiki, {name} anatembea kilomita {E}.",
            "Kwa wiki moja, {name} anatembea kilomita {E}.",
        ),
        "fuel_cost": T(
            "Gari linasafiri kilomita {k} kwa lita moja ya mafuta. Safari ni ya kilomita {d}, "
            "na lita moja ya mafuta inagharimu shilingi {p}. Mafuta ya safari hiyo "
            "yanagharimu shilingi ngapi?",
            "Gari linahitaji lita {E} za mafuta.",
            "Mafuta yanagharimu shilingi {E}.",
        ),
    },
)
