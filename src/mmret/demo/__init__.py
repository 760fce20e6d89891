"""`mmret demo`: real photos that ship inside installed packages (photos.py) and a slideshow video of them (video.py)."""
