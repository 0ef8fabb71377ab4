"""A prompt read into what the world can show: objects with their colour, count, size and
motion, the sky, ground and far layer, and the camera move, plus every word it could not use.

The reading is by phrases and proximity, not by sentence order, so "on the sand, a cube, blue,
slides" reads as "a blue cube slides on the sand". A prompt is cut into clauses at full stops
and at "and", "while", "as", "with" ...; within a clause

- a colour, count or size binds to the nearest object noun (the one after it on a tie, as
  English puts adjectives first), a colour next to a ground or sky ("white snow") describes
  that and is left alone;
- a verb binds to the subject it follows (an object or the camera), else to the object after
  it ("bouncing across the grass, a red ball"), else to the object of the clause before;
- a verb both an object and the camera can do ("rolls", "slides", "drops") is the camera's
  when the camera is its subject or it turns clockwise; a verb only a camera does ("pans",
  "zooms in", "tracking shot to the right") is always the camera's;
- a direction ("to the left", "toward the camera") binds to the verb it follows.

Anything that names nothing the world has, or contradicts what was already said (a second
ground, a second colour for one object), is reported, never dropped in silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .words import CLAUSE_BREAKS, LEXICON, MAX_PHRASE, STOP_WORDS, Sense

_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[.;!?:]")
_LEX_WORDS = frozenset(word for key in LEXICON for word in key)

#: (camera verb family, direction) -> the world's move (`engine.synth.rig.CAMERA_MOVES`)
_CAMERA_MOVES = {
    ("pan", "left"): "pan-left",
    ("pan", "right"): "pan-right",
    ("tilt", "up"): "tilt-up",
    ("tilt", "down"): "tilt-down",
    ("roll", "cw"): "roll-clockwise",
    ("roll", "right"): "roll-clockwise",
    ("roll", "ccw"): "roll-counterclockwise",
    ("roll", "left"): "roll-counterclockwise",
    ("zoom", "in"): "zoom-in",
    ("zoom", "toward"): "zoom-in",
    ("zoom", "out"): "zoom-out",
    ("zoom", "away"): "zoom-out",
    ("dolly", "in"): "dolly-in",
    ("dolly", "toward"): "dolly-in",
    ("dolly", "out"): "dolly-out",
    ("dolly", "away"): "dolly-out",
    ("truck", "left"): "truck-left",
    ("truck", "right"): "truck-right",
    ("move", "left"): "truck-left",
    ("move", "right"): "truck-right",
    ("move", "in"): "dolly-in",
    ("move", "toward"): "dolly-in",
    ("move", "out"): "dolly-out",
    ("move", "away"): "dolly-out",
    ("move", "up"): "pedestal-up",
    ("move", "down"): "pedestal-down",
    ("pedestal", "up"): "pedestal-up",
    ("pedestal", "down"): "pedestal-down",
}
#: a family with no direction given: its one move, or the pair the seed chooses between
_CAMERA_DEFAULTS: dict[str, tuple[str, ...]] = {
    "pan": ("pan-left", "pan-right"),
    "tilt": ("tilt-up", "tilt-down"),
    "roll": ("roll-clockwise", "roll-counterclockwise"),
    "zoom": ("zoom-in",),
    "zoom-in": ("zoom-in",),
    "zoom-out": ("zoom-out",),
    "dolly": ("dolly-in",),
    "dolly-in": ("dolly-in",),
    "dolly-out": ("dolly-out",),
    "truck": ("truck-left", "truck-right"),
    "move": ("truck-left", "truck-right"),
    "pedestal": ("pedestal-up",),
    "pedestal-up": ("pedestal-up",),
    "pedestal-down": ("pedestal-down",),
    "hold": ("static",),
    "static": ("static",),
}
#: words allowed between a camera verb and its direction ("tracking shot to the right")
_CAMERA_FILLER = frozenset({"shot", "the", "camera", "lens", "smoothly", "steadily", "a", "bit"})


@dataclass
class Item:
    """One phrase of the prompt and what became of it."""

    words: tuple[str, ...]
    senses: list[Sense]
    clause: int
    role: str = ""  # the sense taken (a Sense.cat), "stop", or "" while open
    unused: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def sense(self, cat: str) -> Sense | None:
        return next((s for s in self.senses if s.cat == cat), None)

    def has(self, *cats: str) -> bool:
        return any(s.cat in cats for s in self.senses)


@dataclass
class ObjectAsk:
    """One object noun phrase: what the prompt says of it (None: the world chooses)."""

    kind: str
    item: int  # index of its noun in `Reading.items`
    clause: int
    count: int = 1
    counted: bool = False  # a count word bound to it ("two", "a pair of")
    plural: bool = False
    named: str | None = None  # the colour named right before its noun (to match "the red ball")
    colour: str | None = None
    motion: str | None = None  # a MOTIONS name, or "travel" (any motion that travels)
    motion_word: str = ""
    direction: str | None = None  # left, right, toward, away
    size: float = 1.0
    speed: float = 1.0


@dataclass
class Reading:
    """What a prompt asks of the world, before the world fills in the rest."""

    items: list[Item]
    objects: list[ObjectAsk] = field(default_factory=list)
    sky: str | None = None
    ground: str | None = None
    far: str | None = None
    camera: tuple[str, ...] | None = None  # one move, or the moves the seed picks between
    camera_word: str = ""
    camera_speed: float | None = None
    crossing: str | None = None  # "front", "behind" or "cross" (two objects meet)
    notices: list[str] = field(default_factory=list)

    @property
    def used(self) -> list[str]:
        return [i.text for i in self.items if i.role not in ("", "stop") and not i.unused]

    @property
    def unused(self) -> list[str]:
        return [i.text for i in self.items if i.unused]


def tokenize(prompt: str) -> list[str]:
    """Lowercase words and clause punctuation; a hyphenated word the lexicon lacks is split."""
    text = prompt.lower().replace("\u2019", "'").replace("\u2018", "'")
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if token.endswith("'s"):
            token = token[:-2]
        token = token.strip("'")
        if not token:
            continue
        if "-" in token and token not in _LEX_WORDS:
            out.extend(part for part in token.split("-") if part)
        else:
            out.append(token)
    return out


def phrases(tokens: list[str]) -> list[Item]:
    """Longest-match phrases from the lexicon; clause breaks end a clause and vanish."""
    items: list[Item] = []
    clause, i = 0, 0
    while i < len(tokens):
        for length in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + length])
            senses = LEXICON.get(key)
            if senses and not any(t in CLAUSE_BREAKS for t in key):
                items.append(Item(key, list(senses), clause))
                i += length
                break
        else:
            token = tokens[i]
            i += 1
            if token in CLAUSE_BREAKS:
                clause += 1
            elif token in STOP_WORDS:
                items.append(Item((token,), [], clause, role="stop"))
            else:
                items.append(Item((token,), [], clause, unused=True, role="unknown"))
    return items


def read_prompt(prompt: str) -> Reading:
    """Read `prompt` (see the module docstring for the rules)."""
    reading = Reading(phrases(tokenize(prompt)))
    _Binder(reading).run()
    return reading


class _Binder:
    """The passes that turn phrases into a `Reading`, in the order their senses depend on."""

    def __init__(self, reading: Reading):
        self.r = reading
        self.items = reading.items
        self.object_at: dict[int, ObjectAsk] = {}  # noun item index -> its object
        self.verb_of: dict[int, ObjectAsk | str] = {}  # verb item index -> object or "camera"

    def run(self) -> None:
        self._scene()
        self._nouns()
        self._camera()
        self._motions()
        self._colours()
        self._counts_and_sizes()
        self._directions()
        self._speeds()
        self._leftovers()
        if self.r.camera is None:  # "the camera" with nothing for it to do says nothing
            for item in self.items:
                if item.role == "camera":
                    item.role = "stop"

    # -- helpers

    def _take(self, index: int, role: str) -> None:
        self.items[index].role = role

    def _reject(self, index: int, why: str | None = None) -> None:
        item = self.items[index]
        item.role = item.role or "rejected"
        item.unused = True
        if why:
            self.r.notices.append(why)

    def _open(self, index: int, cat: str) -> bool:
        item = self.items[index]
        return not item.role and item.has(cat)

    def _clause(self, index: int) -> range:
        c = self.items[index].clause
        lo = index
        while lo > 0 and self.items[lo - 1].clause == c:
            lo -= 1
        hi = index
        while hi + 1 < len(self.items) and self.items[hi + 1].clause == c:
            hi += 1
        return range(lo, hi + 1)

    def _subject_before(self, index: int) -> int | None:
        """The nearest object noun or camera noun before `index` in its clause."""
        for j in range(index - 1, self._clause(index).start - 1, -1):
            if self.items[j].role in ("kind", "camera"):
                return j
        return None

    def _nearest_object(self, index: int, free=lambda o: True, prefer_after: bool = True):
        """The nearest object in `index`'s clause passing `free`; on a tie, the later one."""
        best, best_key = None, None
        for j in self._clause(index):
            obj = self.object_at.get(j)
            if obj is None or not free(obj):
                continue
            distance = abs(j - index)
            key = (distance, 0 if (j > index) == prefer_after else 1)
            if best_key is None or key < best_key:
                best, best_key = obj, key
        return best

    def _next_meaningful(self, index: int, skip: frozenset[str] = frozenset(), limit: int = 3):
        """Indices after `index` in its clause, past stop words and `skip`, up to `limit`."""
        clause = self._clause(index)
        out = []
        for j in range(index + 1, clause.stop):
            item = self.items[j]
            if item.role == "stop" or item.text in skip or item.has("speed"):
                continue
            out.append(j)
            if len(out) >= limit:
                break
        return out

    # -- passes

    def _scene(self) -> None:
        """Sky, ground, far layer, crossing and a still camera: one value each, first wins."""
        for i, item in enumerate(self.items):
            if item.role or item.has("kind"):
                continue
            if item.has("stop"):
                self._take(i, "stop")
                continue
            if item.has("crossing"):
                self._take(i, "crossing")
                way = item.sense("crossing").value
                if self.r.crossing is None:
                    self.r.crossing = way
                continue
            for cat, label in (("sky", "time of day"), ("ground", "ground"), ("far", "distance")):
                sense = item.sense(cat)
                if sense is None:
                    continue
                have = getattr(self.r, cat)
                if have is None or have == sense.value:
                    setattr(self.r, cat, sense.value)
                    self._take(i, cat)
                else:
                    self._take(i, cat)
                    self._reject(
                        i,
                        f"'{item.text}' names a second {label}; the shot keeps "
                        f"{have} (the world shows one).",
                    )
                break

    def _nouns(self) -> None:
        for i, item in enumerate(self.items):
            if item.role:
                continue
            kind = item.sense("kind")
            if kind is not None:
                self._take(i, "kind")
                named, earlier = self._mentioned(i, str(kind.value))
                if earlier is not None:  # "..., the ball bounces": the ball named before
                    self.object_at[i] = earlier
                    continue
                obj = ObjectAsk(kind.value, i, item.clause, plural=kind.plural, named=named)
                self.object_at[i] = obj
                self.r.objects.append(obj)
            elif item.has("camera"):
                self._take(i, "camera")

    def _mentioned(self, index: int, kind: str) -> tuple[str | None, ObjectAsk | None]:
        """The colour named right before a noun, and the object a definite singular noun
        refers back to ("the ball", "the red ball"), if such an object was named before."""
        j = index - 1
        colour = None
        while j >= 0 and self.items[j].has("colour", "tone", "size") and not self.items[j].role:
            found = self.items[j].sense("colour")
            colour = colour or (str(found.value) if found else None)
            j -= 1
        if self.items[index].sense("kind").plural or j < 0 or self.items[j].words != ("the",):
            return colour, None
        for obj in reversed(self.r.objects):
            if obj.kind == kind and not obj.plural and colour in (None, obj.named):
                return colour, obj
        return colour, None

    def _camera(self) -> None:
        for i, item in enumerate(self.items):
            if item.role:
                continue
            still = item.sense("camstatic")
            if still is not None:
                self._take(i, "camstatic")
                self._set_camera(i, ("static",))
                continue
            cam = item.sense("cam")
            if cam is None or not self._is_camera(i, cam):
                continue
            self._take(i, "cam")
            self.verb_of[i] = "camera"
            family = str(cam.value)
            moves = _CAMERA_DEFAULTS[family]
            for j in self._next_meaningful(i, _CAMERA_FILLER):
                there = self.items[j]
                way = there.sense("dir") or there.sense("particle")
                if there.role or way is None:
                    break
                move = _CAMERA_MOVES.get((family, str(way.value)))
                if move is not None:
                    self._take(j, "camdir")
                    moves = (move,)
                break
            self._set_camera(i, moves)

    def _is_camera(self, index: int, cam: Sense) -> bool:
        item = self.items[index]
        if cam.only or not item.has("motion"):
            return True
        subject = self._subject_before(index)
        if subject is not None and self.items[subject].role == "camera":
            return True
        after = self._next_meaningful(index, _CAMERA_FILLER, limit=1)
        if after:
            way = self.items[after[0]].sense("dir")
            if way is not None and way.only:  # "rolling clockwise": only a camera does that
                return True
        clause = self._clause(index)
        nobody = all(self.items[j].role not in ("kind", "camera") for j in clause)
        if nobody and after:
            way = self.items[after[0]].sense("dir") or self.items[after[0]].sense("particle")
            return way is not None and (str(cam.value), str(way.value)) in _CAMERA_MOVES
        return False

    def _set_camera(self, index: int, moves: tuple[str, ...]) -> None:
        text = self.items[index].text
        if self.r.camera is None:
            self.r.camera, self.r.camera_word = moves, text
        elif set(moves) != set(self.r.camera):
            self._reject(
                index,
                f"'{text}': the camera makes one move per shot; it keeps '{self.r.camera_word}'.",
            )

    def _motions(self) -> None:
        for i, item in enumerate(self.items):
            if not self._open(i, "motion"):
                continue
            motion = str(item.sense("motion").value)
            self._take(i, "motion")
            subject = self._subject_before(i)
            obj = self.object_at.get(subject) if subject is not None else None
            if subject is not None and obj is None:  # the camera's subject, a verb it lacks
                self._reject(i, f"'{item.text}' is not something the world's camera can do.")
                continue
            if obj is None:
                obj = self._nearest_object(i, prefer_after=True)
            if obj is None:
                earlier = [o for o in self.r.objects if o.item < i]
                later = [o for o in self.r.objects if o.item > i]
                obj = earlier[-1] if earlier else (later[0] if later else None)
            if obj is None:
                self._reject(i)
                continue
            self.verb_of[i] = obj
            if obj.motion is None or obj.motion == motion:
                obj.motion, obj.motion_word = motion, item.text
            elif motion == "travel" and obj.motion != "rest":
                continue  # "moves" says no more than the verb already given
            elif obj.motion == "travel":
                obj.motion, obj.motion_word = motion, item.text
            else:
                self._reject(
                    i,
                    f"'{item.text}': the {obj.kind} already {obj.motion_word}; an object "
                    "does one thing per shot.",
                )

    def _colours(self) -> None:
        i = 0
        while i < len(self.items):
            if not (self._open(i, "colour") or self._open(i, "offcolour") or self._tone(i)):
                i += 1
                continue
            run = [i]  # adjacent colour words are one colour: "dark blue", "crimson red"
            while run[-1] + 1 < len(self.items) and (
                self._open(run[-1] + 1, "colour")
                or self._open(run[-1] + 1, "offcolour")
                or self._tone(run[-1] + 1)
            ):
                run.append(run[-1] + 1)
            i = run[-1] + 1
            head = next((j for j in reversed(run) if self._colour_of(j)), None)
            if head is None:  # tones alone ("a bright ball"): nothing to bind
                for j in run:
                    self._take(j, "stop")
                continue
            colour, off = self._colour_of(head)
            for j in run:
                self._take(j, "colour")
            for j in run:
                other = self._colour_of(j)
                if j != head and other and other[0] != colour and not self.items[j].has("tone"):
                    self._reject(j, f"'{self.items[j].text}' and '{self.items[head].text}' "
                                 f"name two colours for one thing; it is {colour}.")  # fmt: skip
            after = i if i < len(self.items) else None
            if after is not None and self.items[after].role in ("ground", "sky", "far"):
                continue  # "white snow", "golden sand": it describes the ground
            obj = self._adjacent_object(run[-1], colour)
            obj = obj or self._nearest_object(run[-1], lambda o: o.colour is None)
            if obj is None:
                pool = [o for o in self.r.objects if o.colour is None]
                later = [o for o in pool if o.item > run[-1]]
                obj = later[0] if later else (pool[-1] if pool else None)
            if obj is None:
                for j in run:
                    self._reject(j)
                continue
            obj.colour = colour
            if off:
                self.r.notices.append(
                    f"The world paints in nine colours and has no {self.items[head].text}: "
                    f"the {obj.kind} is {colour}, the nearest."
                )

    def _adjacent_object(self, index: int, colour: str) -> ObjectAsk | None:
        """The object whose noun follows a colour directly (past size words), if it can take it."""
        j = index + 1
        while j < len(self.items) and self.items[j].has("size") and not self.items[j].role:
            j += 1
        obj = self.object_at.get(j)
        return obj if obj is not None and obj.colour in (None, colour) else None

    def _tone(self, index: int) -> bool:
        """A tone ("dark", "pale", "baby") counts as a colour word only before a colour."""
        if not self._open(index, "tone"):
            return False
        nxt = index + 1
        return nxt < len(self.items) and (
            self._open(nxt, "colour") or self._open(nxt, "offcolour") or self._tone(nxt)
        )

    def _colour_of(self, index: int) -> tuple[str, bool] | None:
        item = self.items[index]
        nxt = index + 1
        if (
            item.has("tone")
            and nxt < len(self.items)
            and self.items[nxt].has("colour", "offcolour")
        ):
            return None  # the tone softens the colour after it
        sense = item.sense("colour")
        if sense is not None:
            return str(sense.value), False
        sense = item.sense("offcolour")
        return (str(sense.value), True) if sense is not None else None

    def _counts_and_sizes(self) -> None:
        for i, item in enumerate(self.items):
            if self._open(i, "count"):
                count = int(item.sense("count").value)
                self._take(i, "count")
                obj = self._following_object(i, lambda o: not o.counted)
                if obj is None:
                    self._reject(i)
                    continue
                obj.count, obj.counted = count, True
            elif self._open(i, "size"):
                self._take(i, "size")
                obj = self._nearest_object(i, lambda o: o.size == 1.0)
                if obj is None:
                    self._reject(i)
                    continue
                obj.size = float(item.sense("size").value)
        for obj in self.r.objects:
            if obj.plural and not obj.counted:
                obj.count = 2
                self.r.notices.append(
                    f"'{self.items[obj.item].text}' says no number: the shot has two."
                )

    def _following_object(self, index: int, free) -> ObjectAsk | None:
        """A count's object: the next noun in its clause, a few words on at most."""
        for j in self._clause(index):
            if j > index and j - index <= 4 and j in self.object_at and free(self.object_at[j]):
                return self.object_at[j]
        return None

    def _directions(self) -> None:
        for i, item in enumerate(self.items):
            if not self._open(i, "dir"):
                continue
            way = str(item.sense("dir").value)
            self._take(i, "dir")
            obj = None
            for j in range(i - 1, self._clause(i).start - 1, -1):  # the verb it follows
                if j in self.verb_of:
                    target = self.verb_of[j]
                    obj = target if isinstance(target, ObjectAsk) else None
                    break
            if obj is None:
                obj = self._nearest_object(i, lambda o: o.direction is None, prefer_after=False)
            if obj is None or way in ("cw", "ccw"):
                self._reject(i)
                continue
            if obj.direction is not None and obj.direction != way:
                self._reject(i, f"'{item.text}': the {obj.kind} already goes {obj.direction}.")
                continue
            obj.direction = way

    def _speeds(self) -> None:
        for i, item in enumerate(self.items):
            if not self._open(i, "speed"):
                continue
            factor = float(item.sense("speed").value)
            self._take(i, "speed")
            verbs = [j for j in self._clause(i) if j in self.verb_of]
            if verbs:
                j = min(verbs, key=lambda j: (abs(j - i), j > i))
                target = self.verb_of[j]
            else:
                target = self._nearest_object(i, prefer_after=False)
            if target == "camera":
                self.r.camera_speed = factor
            elif isinstance(target, ObjectAsk):
                target.speed = factor
            else:
                self._reject(i)

    def _leftovers(self) -> None:
        """Particles, tones and senses nothing took: stop words stay quiet, the rest is told."""
        for i, item in enumerate(self.items):
            if item.role:
                continue
            if all(word in STOP_WORDS for word in item.words) or item.has("particle", "tone"):
                self._take(i, "stop")
            else:
                self._reject(i)
