"""The load layer.

Safe YAML with line numbers, and the loader (the only code that reads rule files).
"""
