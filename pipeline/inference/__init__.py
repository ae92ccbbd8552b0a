"""The one way to use a trained model: its bundle (:mod:`.bundle`), the graph it was trained on
(:mod:`.known_graph`), a whole dataset predicted (:mod:`.predict`), new nodes scored on the known
graph (:mod:`.inductive`), and links scored (:mod:`.links`)."""
