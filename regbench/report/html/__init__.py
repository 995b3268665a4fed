"""The HTML report: the page, its first screen, sections, run pages and the template."""
