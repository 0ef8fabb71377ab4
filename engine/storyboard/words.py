"""The planner's vocabulary: the world's own words (`engine.synth.caption`, `palette`) and the
synonyms, plurals and verb forms a person types that the captioner never writes.

Every entry maps a phrase (a tuple of lowercase tokens) to what it may mean. A phrase can mean
more than one thing ("rolls" is what a ball does and what a camera does; "drops" is a fall or a
camera going down): the parser decides by the phrase's subject. Longer phrases win over their
parts, which is how "rolling hills" stays a far layer, "blue sky" a time of day and "snowy
peaks" mountains rather than a snowy ground.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..synth.caption import FAR_WORDS, GROUND_WORDS, KIND_WORDS, TIME_NOUNS, TIME_WORDS, VERB_WORDS
from ..synth.palette import COLOUR_WORDS, nearest_colour


@dataclass(frozen=True)
class Sense:
    """One meaning of a phrase: `cat` says what it names, `value` which one."""

    cat: str  # kind, colour, offcolour, tone, motion, cam, camstatic, camera, dir, particle,
    #           sky, ground, far, count, size, speed, crossing, stop
    value: object = None
    plural: bool = False  # a plural noun ("balls"): more than one object
    only: bool = False  # a camera verb nothing else can do ("pans"), or a camera-only particle


# ---------------------------------------------------------------------------------------------
# Word lists (canonical value -> words); the captioner's own words are merged in below
# ---------------------------------------------------------------------------------------------

_KINDS: dict[str, tuple[str, ...]] = {
    "ball": ("ball", "sphere", "orb", "globe", "marble", "beach ball", "football", "bubble"),
    "cube": ("cube", "box", "block", "brick", "crate", "dice", "cuboid"),
    "cone": ("cone", "pyramid", "traffic cone", "triangle", "tetrahedron"),
    "star": ("star", "star shape", "starfish", "asterisk"),
    "person": (
        "person", "figure", "man", "woman", "child", "kid", "walker", "boy", "girl", "guy",
        "lady", "pedestrian", "human", "stick figure", "someone", "somebody", "hiker",
        "traveller", "traveler", "stranger", "runner",
    ),
}  # fmt: skip
_IRREGULAR_PLURALS = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": "people",
    "lady": "ladies",
    "somebody": "",
    "someone": "",
    "dice": "",
}

#: words for colours in the palette (the captioner's come first)
_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("crimson", "scarlet", "ruby", "cherry", "vermilion", "cardinal", "blood-red",
            "reddish", "rust-red", "maroon", "burgundy", "wine-red", "tomato"),
    "orange": ("tangerine", "amber", "apricot", "pumpkin", "copper", "rust", "orangey",
               "ochre", "marmalade"),
    "yellow": ("golden", "gold", "lemon", "lemon-yellow", "mustard", "canary", "sunflower",
               "yellowish", "saffron", "butter-yellow", "banana"),
    "green": ("emerald", "lime", "lime-green", "olive", "jade", "mint", "forest-green",
              "greenish", "chartreuse", "sage", "leafy"),
    "blue": ("azure", "cobalt", "navy", "sapphire", "cerulean", "ultramarine", "sky-blue",
             "bluish", "blueish", "indigo", "denim", "royal-blue", "baby-blue"),
    "purple": ("violet", "lilac", "lavender", "mauve", "plum", "amethyst", "grape",
               "purplish", "aubergine", "eggplant"),
    "pink": ("rose", "magenta-pink", "magenta", "fuchsia", "hot-pink", "salmon", "blush",
             "pinkish", "coral", "bubblegum", "rosy"),
    "white": ("snow-white", "pale", "ivory", "cream", "pearl", "alabaster", "chalk",
              "milky", "bone-white", "silver"),
    "black": ("jet-black", "dark", "ebony", "onyx", "charcoal", "coal", "inky", "obsidian",
              "jet", "pitch-black", "sooty"),
}  # fmt: skip
#: colour words that also soften the next colour ("dark blue" is blue, not black and blue)
_TONES = ("dark", "light", "pale", "bright", "deep", "vivid", "pastel", "hot", "baby", "royal",
          "sky", "neon", "dull", "soft", "rich", "dusty", "muted")  # fmt: skip
#: colours the palette lacks: planned as the nearest palette colour, with a notice
OFF_PALETTE: dict[str, tuple[int, int, int]] = {
    "brown": (140, 84, 40),
    "beige": (222, 205, 170),
    "tan": (210, 170, 120),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "turquoise": (64, 200, 200),
    "teal": (0, 128, 140),
    "cyan": (0, 190, 220),
    "khaki": (190, 180, 110),
    "bronze": (170, 110, 50),
}

_GROUNDS: dict[str, tuple[str, ...]] = {
    "grass": ("grass", "grassy", "lawn", "meadow", "field", "turf", "pasture", "prairie",
              "park", "green lawn", "green field", "green grass", "grassland", "grasslands",
              "garden", "meadows", "fields"),
    "sand": ("sand", "sandy", "beach", "desert", "dunes", "dune", "sand dunes", "shore",
             "seashore", "seaside", "sandy beach", "sandy ground", "sands", "sandbox"),
    "snow": ("snow", "snowy", "snowfield", "snowy field", "fresh snow", "ice", "icy", "frost",
             "frosty", "frozen", "tundra", "snow-covered", "snowbank", "snowdrift", "glacier"),
    "checker": ("checker", "checkered", "chequered", "checkerboard", "chequerboard",
                "chessboard", "chess board", "checker floor", "checkered floor",
                "checkerboard floor", "tiled floor", "tiles", "tiled", "tile", "tile floor",
                "tiled ground", "checker board", "checkers", "chess"),
}  # fmt: skip
_SKIES: dict[str, tuple[str, ...]] = {
    "day": ("day", "daylight", "daytime", "sunny", "sunny day", "midday", "noon", "morning",
            "afternoon", "sunshine", "broad daylight", "blue sky", "clear sky", "sunlit",
            "clear day", "bright day", "under a blue sky", "in daylight"),
    "dusk": ("dusk", "sunset", "twilight", "evening", "evening light", "sundown",
             "golden hour", "dawn", "sunrise", "daybreak", "at dusk", "at sunset"),
    "night": ("night", "nighttime", "night-time", "midnight", "moonlit", "moonlight",
              "starry", "starry night", "starry sky", "nightfall", "night sky", "darkness",
              "in the dark", "dark of night", "in the dark of night", "under the stars",
              "moonlit night", "by moonlight", "at night", "under the night sky"),
}  # fmt: skip
_FARS: dict[str, tuple[str, ...]] = {
    "hills": ("hills", "hill", "rolling hills", "low hills", "hillside", "hillsides",
              "green hills", "distant hills", "countryside", "foothills"),
    "mountains": ("mountains", "mountain", "mountain range", "peaks", "snowy peaks", "alps",
                  "the alps", "summits", "snow-capped mountains", "snowcapped mountains",
                  "mountainside", "ridges", "ridge", "range of mountains"),
    "skyline": ("skyline", "city skyline", "city", "buildings", "distant buildings",
                "skyscrapers", "towers", "downtown", "town", "skyline of a city", "metropolis",
                "city lights", "cityscape", "tower blocks", "high-rises"),
}  # fmt: skip

#: object verbs by motion, as base forms (inflected below); "travel" = any travelling motion
_MOTION_VERBS: dict[str, tuple[str, ...]] = {
    "bounce": ("bounce", "hop", "jump", "leap", "bob", "bounce along", "hop along",
               "bounce around", "pogo", "spring", "skip"),
    "roll": ("roll", "tumble", "trundle", "roll along", "roll away", "roll around", "wheel"),
    "slide": ("slide", "glide", "skid", "skate", "drift", "slip", "scoot", "coast",
              "slide along", "glide along", "sled", "slither"),
    "fall": ("fall", "drop", "fall down", "plummet", "plunge", "tumble down", "drop down",
             "land", "topple", "fall over", "crash down"),
    "rest": ("rest", "sit", "sit still", "stand", "stand still", "stay", "stay put",
             "stay still", "wait", "lie", "lie still", "idle", "remain", "sit there",
             "stand there", "rest there", "lie there", "pause"),
    "walk": ("walk", "stroll", "wander", "stride", "march", "pace", "amble", "run", "jog",
             "hike", "trot", "saunter", "strut", "walk along", "step", "tread", "trudge"),
    "spin": ("spin", "twirl", "turn in place", "rotate", "whirl", "pirouette", "revolve",
             "turn", "spin around", "spin in place", "twirl around", "twist"),
    "travel": ("move", "travel", "go", "cross", "head", "race", "speed", "pass", "zip",
               "dash", "hurry", "rush", "sweep", "make its way"),
}  # fmt: skip
#: adjectives that name a motion ("a still cube", "a spinning star" is a verb form)
_MOTION_ADJECTIVES = {
    "rest": ("still", "motionless", "stationary", "idle", "parked", "at rest", "resting",
             "standing still", "unmoving", "static"),
}  # fmt: skip
_IRREGULAR_VERBS = {
    "fall": ("falls", "falling", "fell", "fallen"),
    "sit": ("sits", "sitting", "sat"),
    "stand": ("stands", "standing", "stood"),
    "lie": ("lies", "lying", "lay", "lain"),
    "run": ("runs", "running", "ran"),
    "spin": ("spins", "spinning", "spun"),
    "slide": ("slides", "sliding", "slid"),
    "go": ("goes", "going", "went", "gone"),
    "leap": ("leaps", "leaping", "leapt", "leaped"),
    "spring": ("springs", "springing", "sprang", "sprung"),
    "drop": ("drops", "dropping", "dropped"),
    "hop": ("hops", "hopping", "hopped"),
    "skip": ("skips", "skipping", "skipped"),
    "bob": ("bobs", "bobbing", "bobbed"),
    "skid": ("skids", "skidding", "skidded"),
    "slip": ("slips", "slipping", "slipped"),
    "jog": ("jogs", "jogging", "jogged"),
    "travel": ("travels", "travelling", "traveling", "travelled", "traveled"),
    "crab": ("crabs", "crabbing", "crabbed"),
    "jib": ("jibs", "jibbing", "jibbed"),
    "swivel": ("swivels", "swivelling", "swiveling", "swivelled", "swiveled"),
    "pan": ("pans", "panning", "panned"),
    "step": ("steps", "stepping", "stepped"),
    "trot": ("trots", "trotting", "trotted"),
    "strut": ("struts", "strutting", "strutted"),
    "zip": ("zips", "zipping", "zipped"),
    "sled": ("sleds", "sledding", "sledded"),
    "tread": ("treads", "treading", "trod"),
    "make": ("makes", "making", "made"),
    "plummet": ("plummets", "plummeting", "plummeted"),
    "pedestal": ("pedestals", "pedestalling", "pedestaling", "pedestalled", "pedestaled"),
    "dolly": ("dollies", "dollying", "dollied"),
    "lower": ("lowers", "lowering", "lowered"),
    "hold": ("holds", "holding", "held"),
    "rise": ("rises", "rising", "risen"),
    "sink": ("sinks", "sinking", "sank", "sunk"),
    "pogo": ("pogos", "pogoing", "pogoed"),
    "pass": ("passes", "passing", "passed"),
}

#: camera verbs: base -> (family, camera only). A family plus a direction makes a move
_CAMERA_VERBS: dict[str, tuple[str, bool]] = {
    "pan": ("pan", True),
    "swivel": ("pan", True),
    "tilt": ("tilt", True),
    "roll": ("roll", False),
    "bank": ("roll", True),
    "cant": ("roll", True),
    "zoom": ("zoom", True),
    "dolly": ("dolly", True),
    "push": ("dolly-in", False),
    "pull": ("dolly-out", False),
    "truck": ("truck", True),
    "track": ("truck", True),
    "strafe": ("truck", True),
    "crab": ("truck", True),
    "slide": ("move", False),
    "glide": ("move", False),
    "drift": ("move", False),
    "move": ("move", False),
    "travel": ("move", False),
    "pedestal": ("pedestal", True),
    "crane": ("pedestal", True),
    "boom": ("pedestal", True),
    "jib": ("pedestal", True),
    "rise": ("pedestal-up", False),
    "lift": ("pedestal-up", False),
    "ascend": ("pedestal-up", False),
    "climb": ("pedestal-up", False),
    "lower": ("pedestal-down", False),
    "descend": ("pedestal-down", False),
    "drop": ("pedestal-down", False),
    "sink": ("pedestal-down", False),
    "hold": ("hold", False),
    "stay": ("hold", False),
    "stand": ("hold", False),
    "rest": ("hold", False),
    "remain": ("hold", False),
}
#: nouns that are the camera: "the camera pans", "the lens zooms in"
_CAMERA_NOUNS = ("camera", "lens", "cam", "camera operator", "cameraman", "viewpoint", "our view")
#: a static camera without a verb
_CAMERA_STILL = (
    "static camera", "locked-off camera", "locked off camera", "still camera", "fixed camera",
    "steady camera", "static shot", "locked-off shot", "locked off shot", "locked-off",
    "fixed shot", "tripod shot", "on a tripod", "locked camera", "stationary camera",
    "static view", "fixed view", "still shot", "static frame",
)  # fmt: skip

#: direction phrases; "only" = a camera direction no object travel reads (clockwise, up, in)
_DIRECTIONS: dict[str, tuple[str, ...]] = {
    "left": ("left", "to the left", "leftward", "leftwards", "from right to left",
             "right to left", "toward the left", "towards the left", "to its left"),
    "right": ("right", "to the right", "rightward", "rightwards", "from left to right",
              "left to right", "toward the right", "towards the right", "to its right"),
    "toward": ("toward the camera", "towards the camera", "toward us", "towards us",
               "toward the viewer", "towards the viewer", "toward the lens",
               "towards the lens", "at the camera", "closer", "nearer"),
    "away": ("away from the camera", "away from us", "away from the viewer", "away",
             "into the distance", "off into the distance"),
    "cw": ("clockwise",),
    "ccw": ("counterclockwise", "counter-clockwise", "anticlockwise", "anti-clockwise"),
}  # fmt: skip
#: particles that finish a camera verb ("zooms in", "cranes up", "pulls back")
PARTICLES: dict[str, str] = {
    "in": "in",
    "inward": "in",
    "inwards": "in",
    "forward": "in",
    "forwards": "in",
    "close": "in",
    "out": "out",
    "outward": "out",
    "outwards": "out",
    "back": "out",
    "backward": "out",
    "backwards": "out",
    "up": "up",
    "upward": "up",
    "upwards": "up",
    "skyward": "up",
    "skywards": "up",
    "down": "down",
    "downward": "down",
    "downwards": "down",
}

_COUNTS: dict[int, tuple[str, ...]] = {
    1: ("one", "single", "a single", "lone", "a lone", "1"),
    2: ("two", "pair of", "a pair of", "couple of", "a couple of", "twin", "2", "some"),
    3: ("three", "trio of", "a trio of", "several", "a few", "few", "3", "a bunch of",
        "bunch of", "many", "lots of", "a lot of", "a group of", "group of", "a handful of"),
    4: ("four", "4", "quartet of"),
    5: ("five", "5"),
    6: ("six", "6"),
    7: ("seven", "7"),
    8: ("eight", "8"),
    9: ("nine", "9"),
    10: ("ten", "10", "dozens of", "a dozen", "dozen", "hundreds of"),
}  # fmt: skip
_SIZES: dict[float, tuple[str, ...]] = {
    1.3: ("big", "large", "huge", "giant", "enormous", "massive", "oversized", "great", "tall",
          "hefty", "chunky", "fat", "gigantic", "jumbo"),
    0.72: ("small", "little", "tiny", "mini", "miniature", "wee", "petite", "short", "itty-bitty",
           "baby", "toy"),
}  # fmt: skip
_SPEEDS: dict[float, tuple[str, ...]] = {
    0.6: ("slow", "slowly", "gentle", "gently", "subtle", "subtly", "slight", "slightly",
          "leisurely", "lazily", "lazy", "calmly", "softly", "steadily", "gradually", "gradual",
          "carefully"),
    1.4: ("fast", "quickly", "quick", "rapid", "rapidly", "swift", "swiftly", "sudden",
          "suddenly", "whip", "speedily", "briskly", "brisk", "energetically", "wildly",
          "hard", "dramatic", "dramatically", "fast-moving"),
}  # fmt: skip
_CROSSING: dict[str, tuple[str, ...]] = {
    "front": ("passes in front of", "pass in front of", "passing in front of",
              "crosses in front of", "cross in front of", "crossing in front of",
              "goes in front of", "moves in front of", "rolls in front of",
              "slides in front of", "walks in front of", "bounces in front of"),
    "behind": ("passes behind", "pass behind", "passing behind", "crosses behind",
               "cross behind", "crossing behind", "goes behind", "moves behind",
               "rolls behind", "slides behind", "walks behind", "bounces behind"),
    "cross": ("cross paths", "crossing paths", "cross each other", "pass each other",
              "passing each other", "crisscross", "criss-cross", "cross over"),
}  # fmt: skip

#: words that carry no meaning of their own here: never reported as unused
STOP_WORDS = frozenset(
    """
    a an the and or but of on in at to into onto over across along through under above below
    beneath by with while as from near beside around about upon within its it is are was
    were be being been there here this that these those then each other another very really
    just also too so quite rather somewhat itself themselves their them they which who whose
    what where when whilst against between among amid toward towards past off out up down
    back forward away ground floor surface distance background foreground horizon scene
    shot video clip footage frame picture image view sky world landscape setting place
    area spot stretch expanse way side middle centre center top bottom edge front
    behind again now shown seen visible distant far faraway beyond afar
    all both one ones us we our you your his her he she him i me my something thing
    things object objects shape shapes another few lit light lighting backdrop under
    underneath outside inside across-the through-the has have having had does do did
    can could will would should may might let lets let's whole entire full bright
    during before after until gently together alongside next close nearby
    """.split()
)
#: punctuation and words that end a clause: colours, counts and verbs bind within one
CLAUSE_BREAKS = frozenset(
    {".", ";", "!", "?", ":", "and", "while", "as", "but", "then", "with", "whilst", "where",
     "when", "meanwhile", "plus", "also", "or"}
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Building the lexicon
# ---------------------------------------------------------------------------------------------


def _plural(word: str) -> str:
    """A noun phrase's plural: its last word inflected ("star shapes", "boxes", "ladies")."""
    *head, last = word.split()
    if last in _IRREGULAR_PLURALS:
        plural = _IRREGULAR_PLURALS[last]
        if not plural:
            return ""
    elif last.endswith(("s", "x", "ch", "sh", "z")):
        plural = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        plural = last[:-1] + "ies"
    else:
        plural = last + "s"
    return " ".join([*head, plural])


def verb_forms(base: str) -> set[str]:
    """Every form of a verb phrase whose first word is the verb: base, -s, -ing, -ed."""
    first, *rest = base.split()
    tail = (" " + " ".join(rest)) if rest else ""
    if first in _IRREGULAR_VERBS:
        forms = {first, *_IRREGULAR_VERBS[first]}
    else:
        if first.endswith(("s", "x", "ch", "sh", "z")):
            third = first + "es"
        elif first.endswith("y") and first[-2:-1] not in "aeiou":
            third = first[:-1] + "ies"
        else:
            third = first + "s"
        if first.endswith("e") and not first.endswith("ee"):
            gerund, past = first[:-1] + "ing", first + "d"
        elif first.endswith("y") and first[-2:-1] not in "aeiou":
            gerund, past = first + "ing", first[:-1] + "ied"
        else:
            gerund, past = first + "ing", first + "ed"
        forms = {first, third, gerund, past}
    return {form + tail for form in forms}


def _tokens(phrase: str) -> tuple[str, ...]:
    return tuple(phrase.lower().split())


def build_lexicon() -> dict[tuple[str, ...], list[Sense]]:
    """Phrase -> its senses. Built once at import; the world's own tables are merged in."""
    lex: dict[tuple[str, ...], list[Sense]] = {}

    def add(phrase: str, sense: Sense) -> None:
        key = _tokens(phrase)
        if key and sense not in lex.setdefault(key, []):
            lex[key].append(sense)

    for kind in _KINDS:
        for word in (*KIND_WORDS[kind], *_KINDS[kind]):
            add(word, Sense("kind", kind))
            plural = _plural(word)
            if plural:
                add(plural, Sense("kind", kind, plural=True))
        add("little person", Sense("kind", "person"))
        add("little people", Sense("kind", "person", plural=True))
    for colour, words in COLOUR_WORDS.items():
        for word in (*words, *_COLOURS[colour]):
            add(word, Sense("colour", colour))
    for word in _TONES:
        add(word, Sense("tone"))
    for word, rgb in OFF_PALETTE.items():
        add(word, Sense("offcolour", nearest_colour(rgb)))
        add(word + "ish", Sense("offcolour", nearest_colour(rgb)))
    for ground, words in GROUND_WORDS.items():
        for word in (*words, *_GROUNDS[ground]):
            add(_strip_article(word), Sense("ground", ground))
    for sky in TIME_WORDS:
        for word in (*TIME_WORDS[sky], *TIME_NOUNS[sky], *_SKIES[sky]):
            add(_strip_article(word), Sense("sky", sky))
    for far, words in FAR_WORDS.items():
        for word in (*words, *_FARS[far]):
            add(_strip_article(word), Sense("far", far))
    for motion, pairs in VERB_WORDS.items():
        for present, gerund in pairs:
            add(present, Sense("motion", motion))
            add(gerund, Sense("motion", motion))
    for motion, bases in _MOTION_VERBS.items():
        for base in bases:
            for form in verb_forms(base):
                add(form, Sense("motion", motion))
    for motion, words in _MOTION_ADJECTIVES.items():
        for word in words:
            add(word, Sense("motion", motion))
    for base, (family, only) in _CAMERA_VERBS.items():
        for form in verb_forms(base):
            add(form, Sense("cam", family, only=only))
    for noun in ("pan", "tilt", "zoom", "dolly", "truck", "crane", "tracking shot", "dolly shot",
                 "crane shot", "push-in", "pull-back", "zoom-in", "zoom-out", "push in",
                 "pull back", "pull out", "boom shot", "tracking"):  # fmt: skip
        family = {"tracking shot": "truck", "tracking": "truck", "dolly shot": "dolly",
                  "crane shot": "pedestal", "boom shot": "pedestal", "push-in": "dolly-in",
                  "push in": "dolly-in", "pull-back": "dolly-out", "pull back": "dolly-out",
                  "pull out": "dolly-out", "zoom-in": "zoom-in", "zoom-out": "zoom-out",
                  }.get(noun, noun)  # fmt: skip
        add(noun, Sense("cam", family, only=True))
    for phrase in ("holds still", "hold still", "holding still", "stays still", "stay still",
                   "staying still", "holds steady", "stays put", "does not move",
                   "doesn't move", "stands still", "remains still", "holds its position",
                   "holds its frame", "holds", "stays"):  # fmt: skip
        add(phrase, Sense("cam", "hold"))
    for phrase in _CAMERA_STILL:
        add(phrase, Sense("camstatic", "static", only=True))
    for noun in _CAMERA_NOUNS:
        add(noun, Sense("camera"))
        add("the " + noun, Sense("camera"))
    for direction, words in _DIRECTIONS.items():
        for word in words:
            add(word, Sense("dir", direction, only=direction in ("cw", "ccw")))
    for word in PARTICLES:
        add(word, Sense("particle", PARTICLES[word]))
    for count, words in _COUNTS.items():
        for word in words:
            add(word, Sense("count", count))
    for factor, words in _SIZES.items():
        for word in words:
            add(word, Sense("size", factor))
    for factor, words in _SPEEDS.items():
        for word in words:
            add(word, Sense("speed", factor))
    for way, words in _CROSSING.items():
        for word in words:
            add(word, Sense("crossing", way))
    for phrase in ("in the distance", "on the horizon", "in the background", "far away",
                   "far off", "off in the distance", "in place", "on its own", "all alone",
                   "alone", "by itself", "each other", "one another", "the ground",
                   "the floor", "in view", "on screen", "of the frame", "in frame"):  # fmt: skip
        add(phrase, Sense("stop"))
    return lex


def _strip_article(phrase: str) -> str:
    """The captioner's "a sandy beach" matches "sandy beach": articles are stop words."""
    for article in ("the ", "a ", "an "):
        if phrase.startswith(article):
            return phrase[len(article) :]
    return phrase


LEXICON = build_lexicon()
MAX_PHRASE = max(len(k) for k in LEXICON)
