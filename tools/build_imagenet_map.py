"""Generate ``assets/imagenet_map.tsv`` from WordNet 3.0 hypernym chains (a developer tool).

The committed TSV is the source of truth and is edited by hand afterwards; this script is how its
first version was made, and a way to see what a rule change would do (``--diff``) without
clobbering hand edits. It is not used at run time.

How a class gets its label: walk up the WordNet hypernym graph from the class's synset,
breadth first (nearest ancestor first, the class itself included); the first synset named in
``RULES`` decides. ``OVERRIDES`` (by class index) wins over everything; a class no rule reaches
falls back to its top category via ``FALLBACKS``' broad rules, and ``-`` means ignored.

How a class gets its further labels (the fifth, "also" column), in this order:
    * the scene it implies: ``SCENE_RULES`` (WordNet synset, e.g. every watercraft shows water)
      and ``SCENE_OVERRIDES`` (by class index, e.g. seashore shows the sea, ski shows snow);
    * ``indoor`` or ``outdoor``: ``SETTING_OVERRIDES`` by class index, else ``SETTING_BY_LABEL``
      on the class's album label or its nearest listed ancestor, then the same for its scene
      labels (everything under "landscape" is outdoor, everything under "room" indoor), else
      the nearest synset in ``SETTING_RULES`` (furniture and home appliances are indoor; land
      forms, vehicles, bridges, fences and buildings outdoor). A class none of them reaches,
      or one marked ``-``, is neither: most animals, people, food and small objects are
      photographed in both.
The rules are written from what the classes are (WordNet's definitions), not fitted to photos.

Inputs:
    * WordNet 3.0 ``data.noun`` (Debian: ``apt-get download wordnet-base``, ``dpkg -x`` it, the
      file is ``usr/share/wordnet/data.noun``).
    * timm's ImageNet-1k class list, read straight from the installed package's data files
      (``timm/data/_info/``) so torch is not imported.

Usage::

    python tools/build_imagenet_map.py --wordnet /tmp/wn/usr/share/wordnet/data.noun --diff
    python tools/build_imagenet_map.py --wordnet .../data.noun --write
"""

from __future__ import annotations

import argparse
import collections
import csv
import importlib.util
import logging
import sys
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.labels.vocabulary import (  # noqa: E402 - sys.path set first
    IGNORED,
    Vocabulary,
    normalize,
    read_imagenet_map,
    read_labels,
)

logger = logging.getLogger("build_imagenet_map")
V = TypeVar("V")

HEADER = """\
# ImageNet-1k class -> album label, one line per class, in timm's class-index order.
# Columns (tab-separated): index, WordNet id (n + 8-digit synset offset), ImageNet's own
# description, album label, and optionally "also": further labels, comma-separated. Every label
# must be a name in vocabulary.toml; "-" in the label column means the class is deliberately
# ignored (its probability feeds no label); an ignored class has no "also".
# The prior model scores a label with the softmax mass of every class mapped into its subtree,
# so map a class to the most specific label that truly describes what its photos show. A class
# counts fully towards each label it feeds (and their parents): "canoe" feeds canoe, and also
# water and outdoor. Use "also" only for what the class's photos show by definition.
# "also" holds two kinds of labels, both written by tools/build_imagenet_map.py:
#   - the scene a class implies: every watercraft shows water; seashore, promontory and
#     breakwater show the sea; dock, pier, boathouse and paddle show water; sleds, snowmobile,
#     ski and snowplow show snow; harvester, thresher and plow a field; streetcar, trolleybus
#     and cab a street; a scuba diver is underwater.
#   - indoor / outdoor, from what the class is: WordNet hypernyms (furniture, home appliances,
#     kitchen utensils, bedclothes, floor covers => indoor; geological formations, vehicles,
#     fences, bridges, memorials, towers, buildings, dwellings, fungi, flowers => outdoor), the
#     class's album label (the landscape, street, harbor, garden, bridge, monument, fountain,
#     tent and amusement park subtrees => outdoor; room and bathroom => indoor), and a listed
#     hand decision per class where those disagree with what the class is (park bench, lawn
#     mower, ski => outdoor; desktop computers and peripherals, TV and hi-fi, pianos, organ,
#     radiator, stove, altar, theater curtain => indoor; shops, cinema, greenhouse, dome,
#     vault, forklift, shopping cart, doormat => neither). Animals, people, food, clothing and
#     most small objects are neither: they are photographed in both. Never fitted to photos.
# Labels no class feeds ("sky", "sunset", "forest", "person"...) are "prior-blind": the album
# shows them as learning from the user's examples.
# First generated from WordNet hypernym chains by tools/build_imagenet_map.py, then hand-fixed;
# edit this file by hand (keep tabs, keep all 1000 lines, keep the order).
"""

# fmt: off
# WordNet synset (first lemma, or an "n########" id where the lemma is ambiguous) -> album label.
RULES: dict[str, str] = {
    # animal
    "dog": "dog", "poodle": "poodle", "retriever": "retriever",
    "German shepherd": "german shepherd",
    "Siberian husky": "husky", "malamute": "husky", "Eskimo dog": "husky",
    "beagle": "dog", "Chihuahua": "chihuahua", "pug": "pug", "terrier": "terrier",
    "corgi": "corgi", "bulldog": "bulldog", "wolf": "wolf", "wild dog": "wolf", "fox": "fox",
    "domestic cat": "cat", "wildcat": "wild cat", "big cat": "wild cat", "lion": "lion",
    "tiger": "tiger", "leopard": "leopard", "snow leopard": "leopard", "jaguar": "leopard",
    "cheetah": "leopard", "bear": "bear", "giant panda": "panda", "lesser panda": "panda",
    "primate": "monkey", "elephant": "elephant", "horse": "horse", "zebra": "zebra",
    "cattle": "cow", "Old World buffalo": "cow", "bison": "cow", "sheep": "sheep",
    "wild sheep": "sheep", "goat": "goat", "swine": "pig", "camel": "camel", "llama": "camel",
    "leporid": "rabbit", "rodent": "rodent", "squirrel": "squirrel", "whale": "whale",
    "pinniped mammal": "seal", "bird": "bird", "game bird": "bird", "duck": "duck",
    "goose": "duck", "parrot": "parrot", "bird of prey": "bird of prey", "eagle": "eagle",
    "owl": "owl", "penguin": "penguin", "flamingo": "flamingo", "oscine": "songbird",
    "fish": "fish", "shark": "shark", "reptile": "reptile", "snake": "snake", "lizard": "lizard",
    "turtle": "turtle", "crocodilian reptile": "crocodile", "frog": "frog", "insect": "insect",
    "butterfly": "butterfly", "bee": "bee", "beetle": "beetle", "arachnid": "spider",
    "jellyfish": "jellyfish", "coelenterate": "sea creature", "echinoderm": "sea creature",
    "starfish": "sea creature", "decapod crustacean": "crab", "mollusk": "sea creature",
    # plant
    "flower": "flower", "daisy": "daisy", "orchid": "orchid", "fungus": "mushroom",
    # food and drink
    "beverage": "drink", "coffee": "coffee", "espresso": "espresso", "wine": "wine",
    "edible fruit": "fruit", "apple": "apple", "citrus": "citrus", "banana": "banana",
    "strawberry": "strawberry", "vegetable": "vegetable", "broccoli": "broccoli",
    "cauliflower": "broccoli", "sweet pepper": "bell pepper", "bread": "bread",
    "dessert": "dessert", "frozen dessert": "ice cream", "pizza": "pizza",
    "hamburger": "burger", "hotdog": "hot dog", "soup": "soup", "stew": "soup",
    "spaghetti sauce": "pasta",
    # vehicle
    "n02958343": "car",  # car, auto, automobile (not the railway car n02959942)
    "sports car": "sports car", "n04037443": "sports car",  # racer, race car
    "cab": "taxi", "truck": "truck",
    "fire engine": "fire truck", "van": "van", "bus": "bus", "motorcycle": "motorcycle",
    "bicycle": "bicycle", "train": "train", "locomotive": "train",
    "n02959942": "train",  # car, railcar, railway car
    "steam locomotive": "steam train", "streetcar": "train", "boat": "boat",
    "sailing vessel": "sailboat", "ship": "ship", "canoe": "canoe", "aircraft": "aircraft",
    "airplane": "airplane", "rocket": "rocket", "spacecraft": "rocket", "tractor": "tractor",
    "farm machine": "tractor", "wagon": "carriage",
    # place
    "church": "church", "mosque": "mosque", "shrine": "temple", "castle": "castle",
    "palace": "castle", "tower": "tower", "shop": "shop", "marketplace": "shop",
    "restaurant": "restaurant", "theater": "theater", "farm building": "farm",
    "dwelling": "house", "bridge": "bridge", "memorial": "monument", "column": "monument",
    "arch": "monument", "fountain": "fountain", "landing": "harbor", "tent": "tent",
    "roof": "building", "building": "building",
    # landscape
    "mountain": "mountain", "volcano": "volcano", "valley": "mountain", "cliff": "cliff",
    "promontory": "cliff", "reef": "underwater", "spring": "water", "lakeside": "lake",
    "shore": "beach", "sandbar": "beach",
    # object
    "computer": "computer", "laptop": "laptop", "notebook": "laptop", "keyboard": "computer",
    "telephone": "phone", "camera": "camera", "television": "television",
    "electronic equipment": "electronics", "electronic device": "electronics",
    "electrical device": "electronics", "home appliance": "appliance", "heater": "appliance",
    "fan": "appliance", "blower": "appliance", "kitchen utensil": "kitchenware",
    "tableware": "kitchenware", "cup": "cup", "mug": "cup", "bottle": "bottle",
    "furniture": "furniture", "chair": "chair", "sofa": "sofa",
    "bed": "bed", "baby bed": "bed", "bedclothes": "bed", "cushion": "bed",
    "n04379243": "table", "n04379964": "table",  # table (furniture), table (laid for a meal)
    "floor cover": "furniture", "source of illumination": "lamp",
    "timepiece": "clock", "musical instrument": "musical instrument", "guitar": "guitar",
    "piano": "piano", "organ": "piano", "bowed stringed instrument": "violin",
    "percussion instrument": "drum", "wind instrument": "wind instrument",
    "free-reed instrument": "musical instrument", "tool": "tool", "cleaning implement": "tool",
    "brush": "tool", "fastener": "tool", "plaything": "toy", "puzzle": "toy",
    "weapon": "weapon", "sheath": "weapon",
    # document
    "magazine": "book", "jacket": "book",
    # clothing
    "hat": "hat", "n03513137": "helmet", "n03513376": "helmet",
    "n03380867": "shoe", "n03381126": "shoe",  # footwear (covering), footwear (clothing)
    "dress": "dress", "skirt": "dress", "swimsuit": "swimwear", "suit": "suit",
    "necktie": "suit", "coat": "coat", "n03045337": "coat", "n03045698": "coat",  # cloaks
    "sweater": "sweater", "shirt": "shirt",
    "trouser": "jeans", "uniform": "uniform", "armor": "uniform", "robe": "traditional clothing",
    "jewelry": "jewelry", "glove": "accessory", "scarf": "accessory",
    "n03724870": "accessory", "n03725035": "accessory",  # mask (disguise), mask (protective)
    "hairpiece": "accessory", "spectacles": "sunglasses", "watch": "watch", "bag": "bag",
    "case": "bag",
    # sport
    "gymnastic apparatus": "gymnastics", "weight": "fitness",
}

# Broad synsets, consulted only when no rule above matches anywhere up the chain (otherwise
# "whippet -> greyhound -> racer -> animal" would beat "... -> hound -> hunting dog -> dog").
FALLBACKS: dict[str, str] = {
    "animal": "animal", "plant part": "plant", "vehicle": "vehicle", "clothing": "clothing",
    "n00021265": "food and drink", "n07555863": "food and drink",  # food (nutrient), solid food
    "sports equipment": "sport", "game equipment": "sport", "fence": "place",
    "structure": "place", "geological formation": "landscape", "artifact": "object",
    "container": "container",  # in WordNet a wheeled vehicle is a container too
}

# Hand fixes by class index: where WordNet's chain says one thing and the photos another.
OVERRIDES: dict[int, str] = {
    7: "chicken", 8: "chicken",  # cock, hen: WordNet says only "bird"
    101: "elephant",  # tusker
    110: "sea creature",  # flatworm: mostly colourful marine flatworms
    111: IGNORED,  # nematode: microscope images, noise in an album
    113: "animal", 114: "animal",  # snail, slug: land animals, not sea creatures
    69: IGNORED,  # trilobite: fossils, not animals in a photo
    126: "animal",  # isopod
    147: "whale", 148: "whale", 149: "animal",  # grey whale, killer whale, dugong
    273: "wolf", 274: "wolf", 275: "wolf", 276: "animal",  # wild dogs; hyena
    79: "insect",  # centipede: a "bug" to an album
    599: "bee",  # honeycomb
    676: "dog",  # muzzle: photos of muzzled dogs
    815: "spider",  # spider web
    # plant
    738: "potted plant",  # pot, flowerpot
    947: "mushroom",  # mushroom (WordNet files it as a vegetable)
    984: "field",  # rapeseed: fields of yellow flowers
    958: "field",  # hay
    987: "vegetable", 998: "vegetable",  # corn, ear (of corn)
    988: "tree", 990: "tree", 989: "plant",  # acorn, buckeye, rose hip
    580: "garden",  # greenhouse
    # food and drink
    440: "beer", 441: "beer", 907: "wine",  # beer bottle, beer glass, wine bottle
    968: "cup",  # "cup" is a mixed drink in WordNet; ImageNet's photos are cups
    969: "drink",  # eggnog
    961: "bread",  # dough
    960: "dessert",  # chocolate sauce
    922: "menu",  # menu
    923: "meal", 924: "meal", 935: "meal", 962: "meal", 964: "meal", 965: "meal",
    # vehicle
    444: "bicycle", 870: "bicycle", 880: "bicycle",  # tandem, tricycle, unicycle
    665: "motorcycle", 670: "motorcycle",  # moped, motor scooter
    656: "car",  # minivan: a family car, not a van
    573: "car",  # go-kart
    914: "sailboat",  # yawl
    693: "canoe",  # paddle
    694: "boat",  # paddlewheel
    417: "hot air balloon",  # balloon
    895: "airplane", 908: "airplane",  # warplane, wing
    517: "construction vehicle", 561: "construction vehicle",  # crane, forklift
    475: "car", 479: "car", 535: "car", 581: "car", 685: "car", 686: "car", 785: "car",
    # ^ car mirror, car wheel, disk brake, grille, odometer, oil filter, seat belt
    803: "truck",  # snowplow
    660: "vehicle",  # mobile home
    575: "golf",  # golfcart
    450: "winter sport", 537: "winter sport", 802: "winter sport",  # bobsled, dogsled, snowmobile
    428: "tool", 791: "object",  # barrow, shopping cart
    # place
    406: "church", 442: "church", 663: "church",  # altar, bell cote, monastery
    415: "shop",  # bakery
    437: "lighthouse",  # beacon, lighthouse
    900: "tower",  # water tower
    500: "monument",  # cliff dwelling: ruins
    708: "monument",  # pedestal
    598: "room", 624: "room", 556: "room", 421: "room", 789: "room", 905: "room",
    # ^ home theater, library, fire screen, bannister, shoji, window shade
    435: "bathroom", 896: "bathroom", 861: "bathroom", 794: "bathroom", 648: "bathroom",
    804: "bathroom", 999: "bathroom", 434: "bathroom", 793: "bathroom",
    # ^ bathtub, washbasin, toilet seat, shower curtain, medicine chest, soap dispenser,
    #   toilet tissue, bath towel, shower cap
    706: "garden", 646: "garden", 448: "garden", 843: "garden",  # patio, maze, birdhouse, swing
    743: "building", 634: "building",  # prison, lumbermill
    540: "place",  # drilling platform
    410: "farm",  # apiary
    536: "harbor", 718: "harbor", 460: "harbor", 449: "harbor",  # dock, pier, breakwater, boathouse
    525: "river",  # dam
    476: "amusement park",  # carousel
    797: "tent",  # sleeping bag
    919: "street sign", 920: "traffic light",
    704: "street", 640: "street", 637: "street", 571: "street",
    # ^ parking meter, manhole cover, mailbox, gas pump
    854: "theater",  # theater curtain
    # landscape
    973: "underwater",  # coral reef
    # object
    590: "phone",  # hand-held computer: PDAs look like phones
    664: "computer", 782: "computer", 673: "computer", 592: "computer",
    # ^ monitor, screen, mouse, hard disc
    622: "camera", 872: "camera",  # lens cap, tripod
    550: "appliance", 753: "appliance",  # espresso maker, radiator
    544: "kitchenware", 521: "kitchenware",  # Dutch oven, Crock Pot
    618: "kitchenware", 666: "kitchenware", 725: "kitchenware", 868: "kitchenware",
    503: "kitchenware", 773: "kitchenware", 647: "kitchenware", 828: "kitchenware",
    572: "kitchenware", 729: "kitchenware", 473: "kitchenware", 512: "kitchenware",
    499: "kitchenware",
    # ^ ladle, mortar, pitcher, tray, cocktail shaker, saltshaker, measuring cup, strainer,
    #   goblet, plate rack, can opener, corkscrew, cleaver
    846: "lamp", 619: "lamp",  # table lamp, lampshade
    703: "furniture",  # park bench
    736: "sport",  # pool table
    831: "sofa",  # studio couch
    687: "piano",  # organ
    542: "drum", 714: "guitar",  # drumstick, pick (plectrum)
    401: "musical instrument", 593: "musical instrument",  # accordion, harmonica
    481: "electronics",  # cassette
    761: "electronics", 613: "electronics", 480: "electronics",  # remote, joystick, ATM
    826: "clock", 531: "watch",  # stopwatch, digital watch
    728: "container",  # plastic bag
    720: "bottle",  # pill bottle
    971: "object",  # bubble
    712: "object", 798: "object", 878: "object", 506: "object",
    # ^ Petri dish, slide rule, typewriter keyboard, coil (WordNet: dish, computer, keyboard...)
    754: "electronics", 745: "electronics", 713: "electronics",  # radio, projector, photocopier
    742: "computer", 810: "computer",  # printer, space bar
    723: "toy",  # pinwheel
    756: "container", 855: "object", 477: "tool",  # rain barrel, thimble, carpenter's kit
    # document
    916: "screenshot",  # web site
    917: "book", 921: "book",  # comic book, book jacket
    918: "newspaper",  # crossword puzzle
    549: "letter",  # envelope
    446: "document",  # binder
    # people
    529: "baby", 443: "baby", 680: "baby",  # diaper, bib, nipple (of a baby bottle)
    # clothing
    433: "swimwear",  # bathing cap
    617: "uniform", 411: "uniform", 887: "uniform",  # lab coat, apron, vestment
    461: "uniform",  # breastplate (armour)
    715: "helmet",  # pickelhaube
    836: "sunglasses",  # sunglass
    638: "clothing",  # maillot (tights)
    584: "accessory", 464: "accessory", 879: "accessory",  # hair slide, buckle, umbrella
    691: "object",  # oxygen mask
    # sport
    429: "baseball", 981: "baseball", 430: "basketball", 805: "soccer",
    852: "tennis", 752: "tennis", 722: "tennis", 574: "golf",
    768: "american football", 560: "american football",
    747: "fitness", 795: "skiing", 801: "diving", 983: "diving", 701: "paragliding",
    758: "fishing", 781: "stadium", 746: "sport",  # ... reel, scoreboard, puck
    # event
    496: "christmas", 607: "halloween", 667: "graduation", 400: "graduation",
    982: "wedding", 819: "concert", 645: "festival",
}

# The scene a class implies, by WordNet synset (nearest first) and by class index.
SCENE_RULES: dict[str, tuple[str, ...]] = {
    "n04530566": ("water",),  # vessel, watercraft: boats and ships are photographed on water
}
SCENE_OVERRIDES: dict[int, tuple[str, ...]] = {
    978: ("sea",), 976: ("sea",), 460: ("sea",),  # seashore, promontory (headland), breakwater
    536: ("water",), 718: ("water",), 449: ("water",),  # dock, pier, boathouse
    693: ("water",), 694: ("water",),  # paddle, paddlewheel
    450: ("snow",), 537: ("snow",), 802: ("snow",), 795: ("snow",), 803: ("snow",),
    # ^ bobsled, dogsled, snowmobile, ski, snowplow
    595: ("field",), 856: ("field",), 730: ("field",),  # harvester, thresher, plow
    829: ("street",), 874: ("street",), 468: ("street",),  # streetcar, trolleybus, cab
    983: ("underwater",),  # scuba diver
}

INDOOR, OUTDOOR = "indoor", "outdoor"
# indoor / outdoor by the class's album label (the label itself or its nearest listed ancestor).
SETTING_BY_LABEL: dict[str, str] = {
    "landscape": OUTDOOR, "street": OUTDOOR, "harbor": OUTDOOR, "garden": OUTDOOR,
    "bridge": OUTDOOR, "monument": OUTDOOR, "fountain": OUTDOOR, "tent": OUTDOOR,
    "amusement park": OUTDOOR, "room": INDOOR,  # "bathroom" is under "room"
}
# indoor / outdoor by WordNet synset (nearest first); IGNORED stops the search (neither).
SETTING_RULES: dict[str, str] = {
    "furniture": INDOOR, "home appliance": INDOOR, "kitchen utensil": INDOOR,
    "bedclothes": INDOOR, "cushion": INDOOR, "floor cover": INDOOR,
    "geological formation": OUTDOOR, "vehicle": OUTDOOR, "fence": OUTDOOR, "bridge": OUTDOOR,
    "memorial": OUTDOOR, "tower": OUTDOOR, "building": OUTDOOR, "dwelling": OUTDOOR,
    "fungus": OUTDOOR, "flower": OUTDOOR,
    "shop": IGNORED,  # storefronts and shop floors alike
}
# Where the class's own nature disagrees with the rules above (or they do not reach it).
SETTING_OVERRIDES: dict[int, str] = {
    # outdoor things that WordNet files elsewhere
    703: OUTDOOR, 621: OUTDOOR, 795: OUTDOOR, 701: OUTDOOR,
    # ^ park bench, lawn mower, ski, parachute
    693: OUTDOOR, 694: OUTDOOR, 983: OUTDOOR,  # paddle, paddlewheel, scuba diver
    460: OUTDOOR, 525: OUTDOOR, 540: OUTDOOR,  # breakwater, dam, drilling platform
    853: OUTDOOR, 858: OUTDOOR, 442: OUTDOOR,  # thatch, tile roof, bell cote
    483: OUTDOOR, 900: OUTDOOR, 437: OUTDOOR,  # castle, water tower, beacon
    988: OUTDOOR, 989: OUTDOOR, 990: OUTDOOR,  # acorn, hip, buckeye: on the plant, outside
    # indoor things: desktop computers and peripherals, TV and hi-fi, keyboard instruments
    527: INDOOR, 664: INDOOR, 782: INDOOR, 673: INDOOR, 508: INDOOR, 742: INDOOR,
    713: INDOOR, 745: INDOOR, 810: INDOOR, 662: INDOOR,
    # ^ desktop computer, monitor, screen, mouse, computer keyboard, printer, photocopier,
    #   projector, space bar, modem
    851: INDOOR, 548: INDOOR, 485: INDOOR, 482: INDOOR, 848: INDOOR,
    # ^ television, entertainment center, CD player, cassette player, tape player
    579: INDOOR, 881: INDOOR, 687: INDOOR,  # grand piano, upright, organ
    753: INDOOR, 811: INDOOR, 827: INDOOR, 619: INDOOR, 892: INDOOR,
    # ^ radiator, space heater, stove, lampshade, wall clock
    406: INDOOR, 854: INDOOR, 762: INDOOR, 729: INDOOR,  # altar, theater curtain, restaurant,
    # plate rack
    # neither: photographed both inside and outside
    498: IGNORED, 580: IGNORED, 538: IGNORED, 884: IGNORED,  # cinema, greenhouse, dome, vault
    561: IGNORED, 791: IGNORED, 539: IGNORED, 743: IGNORED,  # forklift, shopping cart, doormat,
    # prison
    458: IGNORED, 708: IGNORED, 634: IGNORED, 797: IGNORED,  # brass (plaque), pedestal,
    # lumbermill, sleeping bag
    476: IGNORED, 559: IGNORED,  # carousel, folding chair
}
# fmt: on


def read_wordnet(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Map each noun synset offset to (lemmas, hypernym offsets) from ``data.noun``."""
    synsets: dict[str, tuple[list[str], list[str]]] = {}
    with path.open(encoding="latin-1") as handle:
        for line in handle:
            if line.startswith("  "):  # licence header
                continue
            fields = line.split("|", 1)[0].split()
            offset, word_count = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(word_count)]
            at = 4 + 2 * word_count
            pointers = int(fields[at])
            hypernyms = []
            for i in range(pointers):
                symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
            synsets[offset] = (lemmas, hypernyms)
    return synsets


def timm_classes() -> list[tuple[str, str]]:
    """(wnid, description) for the 1000 classes, from timm's data files (torch not imported)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or spec.origin is None:
        raise SystemExit("timm is not installed in this environment")
    info = Path(spec.origin).parent / "data" / "_info"
    wnids = (info / "imagenet_synsets.txt").read_text(encoding="utf-8").split()
    with (info / "imagenet_synset_to_lemma.txt").open(encoding="utf-8") as handle:
        lemmas = dict(csv.reader(handle, delimiter="\t"))
    return [(wnid, lemmas[wnid]) for wnid in wnids]


def ancestors(synsets: dict[str, tuple[list[str], list[str]]], offset: str) -> list[str]:
    """The synset and all its hypernyms, breadth first (nearest first), no repeats."""
    order, queue, seen = [], collections.deque([offset]), {offset}
    while queue:
        current = queue.popleft()
        order.append(current)
        for parent in synsets[current][1]:
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return order


Row = tuple[str, str, str, tuple[str, ...]]


def build(
    synsets: dict[str, tuple[list[str], list[str]]],
    classes: list[tuple[str, str]],
    vocabulary: Vocabulary | None = None,
) -> list[Row]:
    """The (wnid, description, label or "-", also) rows.

    The label: OVERRIDES, else RULES, else FALLBACKS. The further labels: the scene, then
    indoor/outdoor (see the module docstring); they need ``vocabulary`` for the label tree
    and are left out without it.
    """
    chains = [ancestors(synsets, wnid[1:]) for wnid, _ in classes]
    by_lemma: dict[str, set[str]] = collections.defaultdict(set)
    for chain in chains:
        for offset in chain:
            by_lemma[normalize(synsets[offset][0][0])].add(offset)
    rules = _resolve_keys(RULES, synsets, by_lemma)
    fallbacks = _resolve_keys(FALLBACKS, synsets, by_lemma)
    scene_rules = _resolve_keys(SCENE_RULES, synsets, by_lemma)
    setting_rules = _resolve_keys(SETTING_RULES, synsets, by_lemma)
    rows = []
    for index, ((wnid, description), chain) in enumerate(zip(classes, chains, strict=True)):
        label = next((rules[offset] for offset in chain if offset in rules), None)
        if label is None:
            label = next((fallbacks[offset] for offset in chain if offset in fallbacks), IGNORED)
        label = OVERRIDES.get(index, label)
        also: tuple[str, ...] = ()
        if vocabulary is not None and label != IGNORED:
            also = _further_labels(index, label, chain, scene_rules, setting_rules, vocabulary)
        rows.append((wnid, description, label, also))
    return rows


def _further_labels(
    index: int,
    label: str,
    chain: list[str],
    scene_rules: dict[str, tuple[str, ...]],
    setting_rules: dict[str, str],
    vocabulary: Vocabulary,
) -> tuple[str, ...]:
    """The scene a class implies, then indoor or outdoor; never the label or a repeat."""
    scene = SCENE_OVERRIDES.get(index)
    if scene is None:
        scene = next((scene_rules[offset] for offset in chain if offset in scene_rules), ())
    setting = SETTING_OVERRIDES.get(index)
    for name in (label, *scene) if setting is None else ():  # a field is outdoors, so a plow is
        setting = next(
            (
                SETTING_BY_LABEL[up]
                for up in (name, *vocabulary.ancestors(name))
                if up in SETTING_BY_LABEL
            ),
            None,
        )
        if setting is not None:
            break
    if setting is None:
        setting = next((setting_rules[o] for o in chain if o in setting_rules), IGNORED)
    found: list[str] = []
    for name in (*scene, setting):
        if name != IGNORED and name != label and name not in found:
            found.append(name)
    return tuple(found)


def _resolve_keys(
    table: dict[str, V],
    synsets: dict[str, tuple[list[str], list[str]]],
    by_lemma: dict[str, set[str]],
) -> dict[str, V]:
    """Turn rule keys (lemma or n-id) into synset offsets; a lemma must name one synset."""
    rules: dict[str, V] = {}
    problems = []
    for key, label in table.items():
        if key.startswith("n") and key[1:].isdigit():
            rules[key[1:]] = label
            continue
        found = sorted(by_lemma.get(normalize(key), set()))
        if len(found) != 1:
            ids = ", ".join(f"n{offset} ({synsets[offset][0]})" for offset in found) or "none"
            problems.append(f"rule {key!r} must name exactly one synset; it matches: {ids}")
        else:
            rules[found[0]] = label
    if problems:
        raise SystemExit("\n".join(problems))
    return rules


def render(rows: list[Row]) -> str:
    """The TSV text, header included; the fifth column only on lines that have further labels."""
    body = "".join(
        f"{i}\t{wnid}\t{desc}\t{label}" + (f"\t{','.join(also)}" if also else "") + "\n"
        for i, (wnid, desc, label, also) in enumerate(rows)
    )
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    """Build the map; check every label exists; write it or show the difference."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--wordnet", type=Path, required=True, help="WordNet 3.0 data.noun")
    parser.add_argument("--assets", type=Path, default=ROOT / "assets")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="overwrite imagenet_map.tsv")
    action.add_argument("--diff", action="store_true", help="list classes that would change")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    vocabulary = Vocabulary(read_labels(args.assets / "vocabulary.toml"))
    rows = build(read_wordnet(args.wordnet), timm_classes(), vocabulary)
    unknown = sorted(
        {
            name
            for _, _, label, also in rows
            for name in (label, *also)
            if name != IGNORED and name not in vocabulary
        }
    )
    if unknown:
        raise SystemExit(f"labels missing from vocabulary.toml: {unknown}")
    target = args.assets / "imagenet_map.tsv"
    if args.diff:
        current = {row.index: (row.label or IGNORED, row.also) for row in read_imagenet_map(target)}
        for index, (_, description, label, also) in enumerate(rows):
            if current.get(index) != (label, also):
                before = current.get(index, (None, ()))
                change = f"{_show(*before)} -> {_show(label, also)}"
                sys.stdout.write(f"{index}\t{description}\t{change}\n")
    elif args.write:
        target.write_text(render(rows), encoding="utf-8")
        logger.info("wrote %s", target)
    counts = collections.Counter(label for _, _, label, _ in rows)
    further = collections.Counter(name for *_, also in rows for name in also)
    logger.info(
        "%d classes mapped, %d ignored, %d labels fed; further labels: %s",
        len(rows) - counts[IGNORED],
        counts[IGNORED],
        len(counts) - (IGNORED in counts),
        ", ".join(f"{name} {n}" for name, n in further.most_common()),
    )
    return 0


def _show(label: str | None, also: tuple[str, ...]) -> str:
    return f"{label}" + (f" + {','.join(also)}" if also else "")


if __name__ == "__main__":
    raise SystemExit(main())
