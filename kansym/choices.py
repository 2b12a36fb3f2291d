"""The options that are choices, as ``str`` Enums parsed once where a configuration is resolved.

Members compare, hash and format as their values (``Target.be == "be"``, ``f"{Subset.even_even}"`` is
``even-even``), so configuration files and run ids stay plain text.
"""

from __future__ import annotations

from enum import Enum

from kansym.errors import KansymError


class Choice(str, Enum):
    """A named choice; ``parse`` turns text into a member or raises a message listing the choices."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __hash__(self) -> int:
        return hash(self.value)

    def __eq__(self, other) -> bool:
        return str.__eq__(self.value, other.value if isinstance(other, Choice) else other)

    @classmethod
    def parse(cls, value, what: str):
        if isinstance(value, cls):
            return value
        for member in cls:
            if member.value == value:
                return member
        raise KansymError(f"unknown {what} {value!r}; valid choices: {', '.join(m.value for m in cls)}")


class Target(Choice):
    be = "be"  # binding energy [MeV]
    me = "me"  # mass excess [MeV]
    residual = "residual"  # AME2020 minus a mass model's mass excess [MeV]


class Subset(Choice):
    all = "all"
    even_even = "even-even"
    odd_a = "odd-a"
    odd_odd = "odd-odd"
    even_z = "even-z"
    even_n = "even-n"


class Stage(Choice):
    kan = "kan"
    symbolic = "symbolic"
    all = "all"


class Engine(Choice):
    none = "none"
    auto = "auto"
    pyoperon = "pyoperon"
    pysr = "pysr"


class PoorEdges(Choice):
    best = "best"
    zero = "zero"
    error = "error"


class Aggregate(Choice):
    median = "median"
    mean = "mean"


class Beyond(Choice):
    clamp = "clamp"
    spline = "spline"


class Trainer(Choice):
    fast = "fast"  # kansym.network.fastfit: pykan's training with a faster evaluation of the same network
    pykan = "pykan"  # MultKAN.fit as it is (the recipe of runs written before kansym 0.2)


class Weights(Choice):
    none = "none"  # every nucleus counts the same
    dme = "dme"  # 1 / (dME^2 + s^2): AME2020's mass uncertainty with a floor s (--weight-floor)


class Domain(Choice):
    frdm12 = "frdm12"  # the nuclei FRDM2012 tabulates
    ws4 = "ws4"
    hfb27 = "hfb27"
    ame2020 = "ame2020"  # measured and estimated


class Use(Choice):
    kan = "kan"
    formula = "formula"
    both = "both"


class TableFormat(Choice):
    csv = "csv"
    ame = "ame"  # fixed width, in the style of the AME and FRDM files
