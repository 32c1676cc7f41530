"""English templates.

Layout of every language module: DATA = LangData(code, native_digits, names, items, nouns,
count, answer, templates). `templates` maps each problem type to T(question, *steps); the
placeholders are the problem's parameters (see problems.py), the people `name`, `name2`,
`name3`, the objects `item`, `item2`, the fixed nouns in `nouns`, and `{E}` (the step's
arithmetic) in steps. Count here: `{k:item}` -> "5 apples".
"""

from xling.organism.world.vocab import LangData, Noun, T, count_sg_pl

_NAMES = ("James", "Emma", "Oliver", "Sophie", "Jack", "Lucy", "Henry", "Grace")

DATA = LangData(
    code="en",
    native_digits=False,
    names=tuple(Noun(n, g="mf"[i % 2]) for i, n in enumerate(_NAMES)),
    items=(
        Noun("apple", pl="apples"),
        Noun("pencil", pl="pencils"),
        Noun("notebook", pl="notebooks"),
        Noun("orange", pl="oranges"),
        Noun("cookie", pl="cookies"),
        Noun("balloon", pl="balloons"),
    ),
    nouns={
        "cur": Noun("dollar", pl="dollars"),
        "hour": Noun("hour", pl="hours"),
        "minute": Noun("minute", pl="minutes"),
        "year": Noun("year", pl="years"),
        "week": Noun("week", pl="weeks"),
        "day": Noun("day", pl="days"),
        "page": Noun("page", pl="pages"),
        "egg": Noun("egg", pl="eggs"),
        "box": Noun("box", pl="boxes"),
        "pack": Noun("pack", pl="packs"),
        "pencil": Noun("pencil", pl="pencils"),
        "passenger": Noun("passenger", pl="passengers"),
        "cake": Noun("cake", pl="cakes"),
        "liter": Noun("liter", pl="liters"),
        "row": Noun("row", pl="rows"),
        "tree": Noun("tree", pl="trees"),
    },
    count=count_sg_pl,
    answer="The answer is {boxed}",
    templates={
        "buy_change": T(
            "{name} buys {k:item} at {p:cur} each and pays with a {bill}-dollar bill. "
            "How much change does {name} get, in dollars?",
            "The {item.pl} cost {E} dollars.",
            "The change is {E} dollars.",
        ),
        "buy_two_items": T(
            "{name} buys {a:item} at {p:cur} each and {b:item2} at {q:cur} each. "
            "How many dollars does {name} spend in total?",
            "The {item.pl} cost {E} dollars.",
            "The {item2.pl} cost {E} dollars.",
            "In total, {name} spends {E} dollars.",
        ),
        "distance": T(
            "{name} drives at a steady speed of {v} km/h for {t:hour}. "
            "How many kilometers does {name} travel?",
            "Distance is speed times time: {E} km.",
        ),
        "travel_time": T(
            "A train travels {d} km at a constant speed of {v} km/h. "
            "How many hours does the trip take?",
            "Time is distance divided by speed: {E} hours.",
        ),
        "age_future": T(
            "{name} is {a} years old now. How old will {name} be in {n:year}?",
            "In {n:year}, {name} will be {E} years old.",
        ),
        "age_older": T(
            "{name} is {a} years old. {name2} is {d:year} older than {name}. "
            "How old will {name2} be in {n:year}?",
            "Right now, {name2} is {E} years old.",
            "In {n:year}, {name2} will be {E} years old.",
        ),
        "share_equally": T(
            "{name} has {N:item} and shares them equally among {k} friends. "
            "How many {item.pl} does each friend get?",
            "Each friend gets {E} {item.pl}.",
        ),
        "share_remainder": T(
            "{name} has {N:item} and wants to share them equally among {k} friends, giving "
            "each friend as many as possible. How many {item.pl} are left over?",
            "Each friend gets {q} {item.pl}, so the friends receive {E} {item.pl} in total.",
            "The number of {item.pl} left over is {E}.",
        ),
        "discount": T(
            "A bicycle costs {P:cur}. The shop gives a {d}% discount on it. "
            "What is the new price of the bicycle in dollars?",
            "The discount is {E} dollars.",
            "The new price is {E} dollars.",
        ),
        "hours_to_minutes": T(
            "A train journey takes {h:hour} and {m:minute}. "
            "How many minutes does the journey take in total?",
            "{h:hour} is {E} minutes.",
            "In total, the journey takes {E} minutes.",
        ),
        "weekly_savings": T(
            "{name} has {a:cur} and saves {s:cur} every week. "
            "How many dollars will {name} have after {w:week}?",
            "In {w:week}, {name} saves {E} dollars.",
            "Then {name} will have {E} dollars.",
        ),
        "rect_area": T(
            "A rectangular garden is {w} meters long and {h} meters wide. "
            "What is the area of the garden in square meters?",
            "The area is the length times the width: {E} square meters.",
        ),
        "rect_perimeter": T(
            "A rectangular field is {w} meters long and {h} meters wide. "
            "What is the perimeter of the field in meters?",
            "The length plus the width is {E} meters.",
            "The perimeter is twice that: {E} meters.",
        ),
        "fence_cost": T(
            "A rectangular yard is {w} meters long and {h} meters wide. A fence costs "
            "{c:cur} per meter. How many dollars does it cost to put a fence around the "
            "whole yard?",
            "The length plus the width is {E} meters.",
            "The perimeter of the yard is {E} meters.",
            "The fence costs {E} dollars.",
        ),
        "eggs_market": T(
            "{name}'s hens lay {e:egg} every day. {name} eats {a} of them and uses "
            "{b} for baking. The rest are sold at {p:cur} per egg. "
            "How many dollars does {name} earn every day?",
            "The number of eggs left to sell is {E}.",
            "The eggs bring in {E} dollars.",
        ),
        "pages_left": T(
            "A book has {P:page}. {name} reads {r:page} every day. "
            "How many pages are still left to read after {days:day}?",
            "In {days:day}, {name} reads {E} pages.",
            "The number of pages left is {E}.",
        ),
        "days_to_read": T(
            "A book has {P:page}. {name} reads {r:page} every day. "
            "How many days does {name} need to read the whole book?",
            "The number of days needed is {E}.",
        ),
        "boxes_packs": T(
            "A shop has {b:box}. Each box holds {c:pack} of pencils, and each pack has "
            "{k:pencil}. How many pencils does the shop have in total?",
            "The number of packs is {E}.",
            "The number of pencils is {E}.",
        ),
        "bus_passengers": T(
            "A bus has {a:passenger} on board. At the first stop, {b} passengers get off "
            "and {c} passengers get on. How many passengers are on the bus now?",
            "After {b} passengers get off, there are {E} on the bus.",
            "After {c} passengers get on, there are {E} on the bus.",
        ),
        "wage": T(
            "{name} earns {w:cur} per hour and works {h:hour} a day. "
            "How many dollars does {name} earn in {days:day}?",
            "In one day, {name} earns {E} dollars.",
            "In {days:day}, {name} earns {E} dollars.",
        ),
        "baking_flour": T(
            "{name} has {F} grams of flour. One cake needs {f} grams of flour, and {name} "
            "bakes {c:cake}. How many grams of flour are left?",
            "The cakes need {E} grams of flour.",
            "The flour left is {E} grams.",
        ),
        "kg_to_grams": T(
            "A parcel weighs {a} kilograms and {b} grams. "
            "How many grams does the parcel weigh in total?",
            "{a} kilograms is {E} grams.",
            "The total weight is {E} grams.",
        ),
        "tank_fill": T(
            "A water tank holds {C:liter}. It already contains {L:liter}. A pump adds "
            "{r:liter} every minute. How many minutes does it take to fill the tank?",
            "The tank still needs {E} liters.",
            "The pump needs {E} minutes.",
        ),
        "times_as_many": T(
            "{name} has {a:item}. {name2} has {m} times as many {item.pl} as {name}, and "
            "{name3} has {f} fewer {item.pl} than {name2}. How many {item.pl} do the three "
            "children have altogether?",
            "{name2} has {E} {item.pl}.",
            "{name3} has {E} {item.pl}.",
            "Altogether they have {E} {item.pl}.",
        ),
        "orchard": T(
            "A farmer plants {r:row} of trees with {t:tree} in each row. Each tree gives "
            "{f} kilograms of fruit. How many kilograms of fruit do all the trees give?",
            "The number of trees is {E}.",
            "The trees give {E} kilograms of fruit.",
        ),
        "yearly_bills": T(
            "Every month, {name} pays {m:cur} for rent and {u:cur} for electricity. "
            "How many dollars does {name} pay in one year?",
            "Every month, {name} pays {E} dollars.",
            "In one year, {name} pays {E} dollars.",
        ),
        "average_score": T(
            "{name} scored {a}, {b} and {c} points on three tests. "
            "What is the average score of {name}?",
            "The total number of points is {E}.",
            "The average score is {E}.",
        ),
        "give_away": T(
            "{name} has {N:item}. {name} gives {a} of them to {name2} and {b} of them to "
            "{name3}. How many {item.pl} does {name} have left?",
            "{name} has {E} {item.pl} left.",
        ),
        "unit_price": T(
            "{name} pays {T:cur} for {k:item}. All the {item.pl} cost the same. "
            "How many dollars does one {item.sg} cost?",
            "One {item.sg} costs {E} dollars.",
        ),
        "profit": T(
            "{name} buys {k:item} at {c:cur} each and sells all of them at {s:cur} each. "
            "How many dollars of profit does {name} make?",
            "{name} sells them for {E} dollars.",
            "{name} paid {E} dollars for them.",
            "The profit is {E} dollars.",
        ),
        "weeks_to_days": T(
            "A holiday lasts {w:week} and {days:day}. How many days does the holiday last?",
            "{w:week} is {E} days.",
            "In total, the holiday lasts {E} days.",
        ),
        "walking_week": T(
            "{name} walks {a} kilometers on every weekday and {b} kilometers on each day of "
            "the weekend. How many kilometers does {name} walk in one week?",
            "On the weekdays, {name} walks {E} kilometers.",
            "On the weekend, {name} walks {E} kilometers.",
            "In one week, {name} walks {E} kilometers.",
        ),
        "fuel_cost": T(
            "A car travels {k} kilometers on one liter of fuel. The trip is {d} kilometers "
            "long, and fuel costs {p:cur} per liter. How many dollars does the fuel for the "
            "trip cost?",
            "The car needs {E} liters of fuel.",
            "The fuel costs {E} dollars.",
        ),
    },
)
