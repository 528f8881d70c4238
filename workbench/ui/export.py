"""``export_html``: a widget as one standalone HTML file that opens offline, curves and tables as they are.

ipywidgets' own ``embed_minimal_html`` writes the widget state but loads the widget manager, require.js and
every custom widget's JavaScript from CDNs when the file is opened. Here the state comes from the same
``ipywidgets.embed`` functions (``dependency_state``, ``embed_data``) and every script is *inlined* instead:

- require.js and the widget manager (``@jupyter-widgets/html-manager``'s ``embed-amd`` bundle, which
  defines ``@jupyter-widgets/base``, ``controls`` and ``output``) are vendored in ``workbench/ui/static``
  (see its README for versions and licences);
- the buttons' icon fonts (Font Awesome's solid and regular faces) as data URLs;
- each other widget module the state uses (``bqplot``, ``bqscales``) is read from the installed package's
  ``share/jupyter/nbextensions/<module>/index.js`` (an AMD module), named with the module's name so the
  manager's ``require([name])`` finds it before it would fall back to a CDN.

A module with no JavaScript on this machine is an error naming it, not a file that needs the network.
"""

from __future__ import annotations

import base64
import html
import json
import re
import sys
from importlib import resources
from pathlib import Path

import ipywidgets as widgets
from ipywidgets.embed import dependency_state, embed_data

__all__ = ["export_html", "widget_javascript"]

#: Modules the vendored widget manager defines itself.
_MANAGER_MODULES = {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
_ANONYMOUS_DEFINE = re.compile(r"\A(\s*(?:/\*.*?\*/\s*|//[^\n]*\n\s*)*)define\(", re.DOTALL)


def _static(name: str) -> str:
    return resources.files("workbench.ui").joinpath("static", name).read_text(encoding="utf-8")


def _nbextension_dirs() -> list[Path]:
    """Where installed widget packages keep their AMD bundles (the environment's first)."""
    dirs = [Path(sys.prefix) / "share" / "jupyter" / "nbextensions"]
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:  # (jupyter_core comes with Jupyter; without it only this environment is searched)
        return dirs
    return dirs + [Path(p) for p in jupyter_path("nbextensions") if Path(p) not in dirs]


def widget_javascript(module: str) -> str:
    """The JavaScript of widget module ``module`` (e.g. ``"bqplot"``) as a *named* AMD module, to inline.

    Raises
    ------
    FileNotFoundError
        When no installed package on this machine ships ``nbextensions/<module>/index.js``.
    """
    tried = [d / module / "index.js" for d in _nbextension_dirs()]
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"The widget module {module!r} has no JavaScript on this machine (looked for "
            f"{', '.join(map(str, tried))}), so an offline HTML file cannot draw it. Install the Python "
            f"package that provides {module!r} in this environment, or export a widget that does not use it."
        )
    source = path.read_text(encoding="utf-8")
    named, n = _ANONYMOUS_DEFINE.subn(lambda m: f"{m.group(1)}define({json.dumps(module)},", source, count=1)
    if n != 1:
        raise ValueError(
            f"{path} does not start with an AMD define(...): cannot inline widget module {module!r}."
        )
    return named


def _icon_fonts() -> str:
    """The buttons' icon fonts (Font Awesome's solid and regular faces) as data URLs. The bundle's own
    ``@font-face`` rules point to files beside the page; these, later in the document, replace them."""
    rules = []
    for weight, name in ((900, "fa-solid-900.woff2"), (400, "fa-regular-400.woff2")):
        data = base64.b64encode(
            resources.files("workbench.ui").joinpath("static", name).read_bytes()
        ).decode()
        rules.append(
            f'@font-face{{font-family:"Font Awesome 5 Free";font-style:normal;font-weight:{weight};'
            f'font-display:block;src:url(data:font/woff2;base64,{data}) format("woff2")}}'
        )
    return "<style>" + "".join(rules) + "</style>"


def _script(source: str) -> str:
    # "</script" inside an inline script would end it early ("<\/" means the same in JS strings and regexes)
    return "<script>\n" + re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE) + "\n</script>"


def export_html(widget: widgets.Widget, path: str | Path, *, title: str | None = None) -> Path:
    """Write ``widget`` as it is now to one standalone HTML file that opens offline.

    The widget's state (and that of every widget it shows) is embedded, and all the JavaScript needed to
    draw it is inlined: no CDN, no kernel. The page is a snapshot: controls can be moved but nothing trains.

    Parameters
    ----------
    widget : ipywidgets.Widget
        What to export (e.g. an ``OverfitLab``, a ``SearchView``, a bqplot ``Figure``).
    path : str or Path
        The file to write; it must end in ``.html`` (missing folders are created).
    title : str, optional
        The page title (default: the widget's class name).

    Returns
    -------
    Path
        The file written (absolute).
    """
    if not isinstance(widget, widgets.DOMWidget):
        raise TypeError(
            f"The 'widget' parameter of export_html must be a displayable ipywidgets widget. "
            f"Got {type(widget).__name__} instead."
        )
    if not isinstance(path, (str, Path)) or Path(path).suffix.lower() not in (".html", ".htm"):
        raise ValueError(
            f"The 'path' parameter of export_html must be a file name ending in .html. Got {path!r} instead."
        )
    state = dependency_state([widget], drop_defaults=True)
    data = embed_data(views=[widget], state=state)
    modules = sorted(
        {s["model_module"] for s in state.values()}
        | {s["state"].get("_view_module", "") for s in state.values()}
    )
    custom = [m for m in modules if m and m not in _MANAGER_MODULES]
    scripts = [
        _static("require.js"),
        *(widget_javascript(m) for m in custom),
        _static("html-manager-embed-amd.js"),
    ]
    state_json = json.dumps(data["manager_state"]).replace("</", "<\\/")
    views = "\n".join(
        '<script type="application/vnd.jupyter.widget-view+json">\n'
        + json.dumps(spec).replace("</", "<\\/")
        + "\n</script>"
        for spec in data["view_specs"]
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="UTF-8">\n'
        f"<title>{html.escape(title or type(widget).__name__)}</title>\n"
        + "\n".join(_script(s) for s in scripts)
        + "\n</head>\n<body>\n"
        f'<script type="application/vnd.jupyter.widget-state+json">\n{state_json}\n</script>\n'
        f"{views}\n{_icon_fonts()}\n</body>\n</html>\n"
    )
    out = Path(path).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
