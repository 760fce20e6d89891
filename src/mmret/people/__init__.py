"""People: the faces of a collection (media/face_segments.py) grouped into persons, named, merged, split and
forgotten. A face's person and its name live in the face segment's metadata, and a named person's name in each of
their files' metadata (`named_people`), so every change, forgetting included, is one commit of records."""
