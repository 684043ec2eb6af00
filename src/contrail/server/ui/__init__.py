"""The Web UI: server-rendered pages (Jinja2, autoescaped), htmx and a little plain JavaScript.

``install_ui(app)`` mounts the pages at /, the vendored static files at /static, the security
headers and the UI's error pages. Nothing is fetched from the network or built at run time.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from contrail.server.ui.headers import SecurityHeaders
from contrail.server.ui.routes import alerts as alerts_routes
from contrail.server.ui.routes import dashboard, observations, sessions, settings, signin, traces
from contrail.server.ui.routes import evals as evals_routes
from contrail.server.ui.routes import playground as playground_routes
from contrail.server.ui.routes import prices as prices_routes
from contrail.server.ui.routes import prompts as prompts_routes
from contrail.server.ui.session import SignInRequired, UiError, csrf_protect
from contrail.server.ui.templating import ENV, STATIC_DIR, is_htmx, render

__all__ = ["install_ui"]

_HEADINGS = {403: "Not allowed", 404: "Not found"}


def install_ui(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
    for module in (signin, dashboard, traces, sessions, observations, settings, alerts_routes, prices_routes):
        router.include_router(module.router)
    router.include_router(prompts_routes.router)
    router.include_router(playground_routes.router)
    router.include_router(evals_routes.router)
    app.include_router(router)
    ENV.globals["budget_banner"] = alerts_routes.budget_banner
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = "/login?" + urlencode({"next": target})
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    @app.exception_handler(UiError)
    async def _ui_error(request: Request, exc: UiError) -> Response:
        heading = _HEADINGS.get(exc.status, "Cannot do that")
        return render(request, "error.html", None, status=exc.status, heading=heading, message=exc.message)
