"""Chinese (simplified) templates (layout: see en.py). Count: `{k:item}` -> "5个苹果"
(number, measure word `cl`, noun). Prices are in 元.
"""

from xling.organism.world.vocab import LangData, Noun, T


def _count(value: int, digits: str, noun: Noun) -> str:
    return f"{digits}{noun.cl}{noun.sg}"


_NAMES = ("小明", "小红", "李伟", "王芳", "张强", "刘丽", "陈刚", "杨静")

DATA = LangData(
    code="zh",
    native_digits=False,
    names=tuple(Noun(n, g="mf"[i % 2]) for i, n in enumerate(_NAMES)),
    items=(
        Noun("苹果", cl="个"),
        Noun("铅笔", cl="支"),
        Noun("笔记本", cl="本"),
        Noun("橙子", cl="个"),
        Noun("饼干", cl="块"),
        Noun("气球", cl="个"),
    ),
    nouns={},
    count=_count,
    answer="所以答案是 {boxed}",
    templates={
        "buy_change": T(
            "{name}买了{k:item}，每{item.cl}{p}元，付给店员{bill}元。{name}应该找回多少元？",
            "买{item.sg}一共花了 {E} 元。",
            "应该找回 {E} 元。",
        ),
        "buy_two_items": T(
            "{name}买了{a:item}，每{item.cl}{p}元，又买了{b:item2}，每{item2.cl}{q}元。"
            "{name}一共花了多少元？",
            "买{item.sg}花了 {E} 元。",
            "买{item2.sg}花了 {E} 元。",
            "一共花了 {E} 元。",
        ),
        "distance": T(
            "{name}以每小时{v}千米的速度匀速开车，开了{t}小时。{name}一共行驶了多少千米？",
            "路程等于速度乘以时间：{E} 千米。",
        ),
        "travel_time": T(
            "一列火车以每小时{v}千米的速度匀速行驶了{d}千米。这段路程用了多少小时？",
            "时间等于路程除以速度：{E} 小时。",
        ),
        "age_future": T(
            "{name}今年{a}岁。{n}年后{name}多少岁？",
            "{n}年后，{name}的年龄是 {E} 岁。",
        ),
        "age_older": T(
            "{name}今年{a}岁。{name2}比{name}大{d}岁。{n}年后{name2}多少岁？",
            "{name2}今年 {E} 岁。",
            "{n}年后，{name2}的年龄是 {E} 岁。",
        ),
        "share_equally": T(
            "{name}有{N:item}，把它们平均分给{k}个朋友。每个朋友分到多少{item.cl}？",
            "每个朋友分到 {E} {item.cl}。",
        ),
        "share_remainder": T(
            "{name}有{N:item}，想把它们平均分给{k}个朋友，并且让每个人分得尽可能多。"
            "还剩下多少{item.cl}{item.sg}？",
            "每个朋友分到{q}{item.cl}，一共分出 {E} {item.cl}。",
            "还剩下 {E} {item.cl}。",
        ),
        "discount": T(
            "一辆自行车原价{P}元。商店对这辆自行车打折，优惠{d}%。这辆自行车的新价格是多少元？",
            "优惠的金额是 {E} 元。",
            "新价格是 {E} 元。",
        ),
        "hours_to_minutes": T(
            "一次火车旅行需要{h}小时{m}分钟。这次旅行一共需要多少分钟？",
            "{h}小时就是 {E} 分钟。",
            "这次旅行一共需要 {E} 分钟。",
        ),
        "weekly_savings": T(
            "{name}现在有{a}元，每周再存{s}元。{w}周后{name}一共有多少元？",
            "{w}周一共存了 {E} 元。",
            "那时{name}一共有 {E} 元。",
        ),
        "rect_area": T(
            "一个长方形花园长{w}米，宽{h}米。这个花园的面积是多少平方米？",
            "面积等于长乘以宽：{E} 平方米。",
        ),
        "rect_perimeter": T(
            "一块长方形田地长{w}米，宽{h}米。这块田地的周长是多少米？",
            "长加宽等于 {E} 米。",
            "周长是它的两倍：{E} 米。",
        ),
        "fence_cost": T(
            "一个长方形院子长{w}米，宽{h}米。篱笆每米{c}元。在整个院子四周围上篱笆需要多少元？",
            "长加宽等于 {E} 米。",
            "院子的周长是 {E} 米。",
            "篱笆一共需要 {E} 元。",
        ),
        "eggs_market": T(
            "{name}家的母鸡每天下{e}个蛋。{name}每天吃掉{a}个，用{b}个做蛋糕，"
            "剩下的鸡蛋以每个{p}元的价格卖掉。{name}每天能赚多少元？",
            "剩下可以卖的鸡蛋有 {E} 个。",
            "卖鸡蛋的收入是 {E} 元。",
        ),
        "pages_left": T(
            "一本书有{P}页。{name}每天读{r}页。{days}天后还剩多少页没有读？",
            "{days}天一共读了 {E} 页。",
            "还剩 {E} 页没有读。",
        ),
        "days_to_read": T(
            "一本书有{P}页。{name}每天读{r}页。{name}需要多少天才能读完这本书？",
            "需要的天数是 {E} 天。",
        ),
        "boxes_packs": T(
            "一家商店有{b}个箱子，每个箱子里有{c}包铅笔，每包有{k}支铅笔。"
            "这家商店一共有多少支铅笔？",
            "一共有 {E} 包。",
            "一共有 {E} 支铅笔。",
        ),
        "bus_passengers": T(
            "一辆公共汽车上有{a}名乘客。在第一站，有{b}名乘客下车，又有{c}名乘客上车。"
            "现在车上有多少名乘客？",
            "{b}名乘客下车后，车上还有 {E} 名。",
            "{c}名乘客上车后，车上有 {E} 名。",
        ),
        "wage": T(
            "{name}每小时挣{w}元，每天工作{h}小时。{name}{days}天一共能挣多少元？",
            "{name}一天挣 {E} 元。",
            "{name}{days}天挣 {E} 元。",
        ),
        "baking_flour": T(
            "{name}有{F}克面粉。做一个蛋糕需要{f}克面粉，{name}做了{c}个蛋糕。还剩多少克面粉？",
            "做蛋糕一共用了 {E} 克面粉。",
            "还剩 {E} 克面粉。",
        ),
        "kg_to_grams": T(
            "一个包裹重{a}千克{b}克。这个包裹一共重多少克？",
            "{a}千克就是 {E} 克。",
            "包裹的总重量是 {E} 克。",
        ),
        "tank_fill": T(
            "一个水箱能装{C}升水，里面已经有{L}升水。水泵每分钟往里加{r}升水。"
            "需要多少分钟才能把水箱装满？",
            "还需要加 {E} 升水。",
            "水泵需要 {E} 分钟。",
        ),
        "times_as_many": T(
            "{name}有{a:item}。{name2}的{item.sg}是{name}的{m}倍，{name3}的{item.sg}比"
            "{name2}少{f}{item.cl}。三个孩子一共有多少{item.cl}{item.sg}？",
            "{name2}有 {E} {item.cl}。",
            "{name3}有 {E} {item.cl}。",
            "三个孩子一共有 {E} {item.cl}。",
        ),
        "orchard": T(
            "一位农民种了{r}行树，每行种{t}棵。每棵树结{f}千克果子。所有的树一共结多少千克果子？",
            "一共有 {E} 棵树。",
            "所有的树一共结 {E} 千克果子。",
        ),
        "yearly_bills": T(
            "{name}每个月付房租{m}元，付电费{u}元。{name}一年一共要付多少元？",
            "{name}每个月付 {E} 元。",
            "{name}一年付 {E} 元。",
        ),
        "average_score": T(
            "{name}三次考试分别得了{a}分、{b}分和{c}分。{name}的平均分是多少？",
            "总分是 {E} 分。",
            "平均分是 {E} 分。",
        ),
        "give_away": T(
            "{name}有{N:item}。{name}给了{name2}{a}{item.cl}，又给了{name3}{b}{item.cl}。"
            "{name}还剩多少{item.cl}{item.sg}？",
            "{name}还剩 {E} {item.cl}。",
        ),
        "unit_price": T(
            "{name}花{T}元买了{k:item}，每{item.cl}的价格都一样。一{item.cl}{item.sg}多少元？",
            "一{item.cl}{item.sg}的价格是 {E} 元。",
        ),
        "profit": T(
            "{name}以每{item.cl}{c}元的价格买了{k:item}，然后以每{item.cl}{s}元的价格全部卖出。"
            "{name}赚了多少元？",
            "卖出的收入是 {E} 元。",
            "买入的成本是 {E} 元。",
            "利润是 {E} 元。",
        ),
        "weeks_to_days": T(
            "一次假期持续{w}周零{days}天。这次假期一共有多少天？",
            "{w}周就是 {E} 天。",
            "这次假期一共有 {E} 天。",
        ),
        "walking_week": T(
            "{name}每个工作日步行{a}千米，周末每天步行{b}千米。{name}一周一共步行多少千米？",
            "工作日一共步行 {E} 千米。",
            "周末一共步行 {E} 千米。",
            "一周一共步行 {E} 千米。",
        ),
        "fuel_cost": T(
            "一辆汽车每升汽油可以行驶{k}千米。这次行程长{d}千米，汽油每升{p}元。"
            "这次行程的油费是多少元？",
            "需要的汽油是 {E} 升。",
            "油费是 {E} 元。",
        ),
    },
)
