"""The signup API (FastAPI on uvicorn): `create_app(registry, tokens)`; `provisioner serve`.

See provisioner.api.app for the endpoints and provisioner.api.auth for the token format.
"""

from provisioner.api.app import create_app
from provisioner.api.auth import Tokens

__all__ = ["Tokens", "create_app"]
