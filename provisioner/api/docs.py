"""`/docs`: Swagger UI served from this process, never from a CDN.

FastAPI's default page loads Swagger UI's script and stylesheet from a public CDN, so opening
the docs tells a third party who reads them and breaks where outbound traffic is closed. The
assets ship in the `swagger-ui-py` package (Swagger UI 5, which renders OpenAPI 3.1); they are
mounted under /docs/static and the page points there. ReDoc (also CDN-only) is not offered.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_PREFIX = "/docs/static"


def swagger_assets() -> Path | None:
    """The directory of Swagger UI's files, or None when swagger-ui-py is not installed."""
    try:
        import swagger_ui
    except ImportError:
        return None
    folder = Path(swagger_ui.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def install(app: FastAPI) -> bool:
    """Serve /docs from local assets; False (and no /docs at all) without them."""
    assets = swagger_assets()
    if assets is None:
        return False
    app.mount(STATIC_PREFIX, StaticFiles(directory=assets), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon-32x32.png",
        )

    return True
