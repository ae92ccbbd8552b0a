"""Word lists for templated sentences: one topic per class (its cue words) and neutral filler.

Plain English words that a sentence encoder knows, so the class signal reaches the embedding
the way it would in real text: through what the sentence is about.
"""

from __future__ import annotations

TOPICS: tuple[tuple[str, ...], ...] = (
    ("planet", "telescope", "galaxy", "orbit", "comet", "nebula", "asteroid", "star"),
    ("violin", "melody", "orchestra", "chord", "symphony", "piano", "rhythm", "choir"),
    ("harvest", "wheat", "tractor", "barn", "orchard", "plough", "cattle", "field"),
    ("surgeon", "vaccine", "clinic", "fever", "patient", "nurse", "diagnosis", "hospital"),
    ("striker", "goal", "stadium", "referee", "league", "penalty", "midfielder", "trophy"),
    ("volcano", "glacier", "canyon", "earthquake", "lava", "sediment", "fossil", "basalt"),
    ("recipe", "oven", "flour", "butter", "bakery", "dough", "spice", "kitchen"),
    ("senate", "election", "ballot", "minister", "parliament", "treaty", "campaign", "policy"),
    ("compiler", "database", "algorithm", "server", "software", "network", "processor", "kernel"),
    ("painter", "canvas", "sculpture", "gallery", "portrait", "brush", "museum", "fresco"),
    ("sailor", "harbour", "anchor", "ship", "voyage", "lighthouse", "tide", "captain"),
    ("lawyer", "court", "verdict", "judge", "contract", "lawsuit", "evidence", "tribunal"),
    ("protein", "enzyme", "cell", "gene", "bacteria", "molecule", "membrane", "chromosome"),
    ("banker", "loan", "interest", "stock", "investor", "dividend", "mortgage", "currency"),
    ("knight", "castle", "empire", "dynasty", "siege", "monarch", "crusade", "medieval"),
    ("pilot", "airport", "runway", "aircraft", "cockpit", "jet", "airline", "hangar"),
    ("poet", "novel", "poem", "verse", "author", "chapter", "sonnet", "library"),
    ("rainforest", "jaguar", "parrot", "canopy", "tropical", "orchid", "monkey", "river"),
    ("engine", "piston", "gearbox", "mechanic", "garage", "wrench", "exhaust", "tyre"),
    ("teacher", "classroom", "pupil", "exam", "homework", "school", "lesson", "curriculum"),
    ("actor", "theatre", "stage", "rehearsal", "audience", "costume", "drama", "playwright"),
    ("weather", "storm", "rainfall", "forecast", "thunder", "humidity", "cyclone", "drought"),
    ("chess", "bishop", "checkmate", "pawn", "tournament", "grandmaster", "opening", "gambit"),
    ("perfume", "fashion", "silk", "designer", "runway", "fabric", "tailor", "jewellery"),
    ("battery", "voltage", "circuit", "transistor", "solar", "turbine", "electricity", "grid"),
    ("monk", "temple", "prayer", "pilgrim", "scripture", "monastery", "ritual", "shrine"),
    ("whale", "coral", "reef", "dolphin", "plankton", "shark", "ocean", "seaweed"),
    ("camera", "photograph", "lens", "shutter", "exposure", "tripod", "studio", "film"),
    ("bridge", "concrete", "architect", "skyscraper", "crane", "steel", "blueprint", "tunnel"),
    ("mountain", "climber", "summit", "rope", "avalanche", "trail", "altitude", "ridge"),
)

SUBJECTS = ("the report", "a new study", "this article", "the story", "our note", "the entry", "a review", "the page")
VERBS = ("describes", "mentions", "discusses", "covers", "explains", "recalls", "compares", "notes")
ADJECTIVES = ("old", "large", "small", "famous", "local", "recent", "common", "rare", "early", "modern")
FILLER = ("people", "year", "place", "time", "group", "idea", "detail", "example", "part", "way")
