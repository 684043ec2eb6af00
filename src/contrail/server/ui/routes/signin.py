"""Sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from contrail.server.state import server_state
from contrail.server.ui import session
from contrail.server.ui.templating import render
from contrail.store import accounts

router = APIRouter()


@router.get("/")
def home(request: Request) -> RedirectResponse:
    return RedirectResponse("/traces", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    token = request.cookies.get(session.SESSION_COOKIE)
    if token and accounts.find_session(server_state(request).engine, token):
        return RedirectResponse(session.safe_next(next), status_code=303)
    return _form(request, next, None, 200)


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    engine = server_state(request).engine
    outcome = accounts.sign_in(engine, email, password, session.client_address(request))
    if outcome.retry_after is not None:
        minutes = max(1, outcome.retry_after // 60)
        message = (
            f"Too many failed sign-ins. Try again in about {minutes} minute{'s' if minutes > 1 else ''}."
        )
        return _form(request, next, message, 429, {"Retry-After": str(outcome.retry_after)}, email)
    if outcome.user is None:
        return _form(request, next, "Wrong e-mail or password.", 401, None, email)
    projects = accounts.memberships_of(engine, outcome.user)
    token = accounts.start_session(engine, outcome.user, projects[0].project_id if projects else None)
    response = RedirectResponse(session.safe_next(next), status_code=303)
    session.set_session_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    token = request.cookies.get(session.SESSION_COOKIE)
    if token:
        accounts.end_session(server_state(request).engine, token)
    response = RedirectResponse("/login", status_code=303)
    session.clear_session_cookie(request, response)
    return response


def _form(
    request: Request,
    next_url: str | None,
    error: str | None,
    status: int,
    headers: dict[str, str] | None = None,
    email: str = "",
) -> Response:
    csrf = session.login_csrf_token(request)
    response = render(
        request,
        "login.html",
        None,
        status=status,
        headers=headers,
        csrf=csrf,
        error=error,
        next_url=session.safe_next(next_url),
        email=email,
    )
    session.set_login_csrf_cookie(request, response, csrf)
    return response
