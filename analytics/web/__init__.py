"""The platform's pages: server-rendered, Japanese/English, SVG charts, a CSV behind every chart."""
