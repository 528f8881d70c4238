"""The app mode: ``python -m workbench app`` serves ``workbench.ui.App`` as one page with Voilà.

No widgets are imported here: this package only builds the Voilà command and its environment
(``server``); the served notebook (``app.ipynb``) imports the ``App``.
"""

from .server import app_env, app_notebook, page_url, voila_command

__all__ = ["app_env", "app_notebook", "page_url", "voila_command"]
