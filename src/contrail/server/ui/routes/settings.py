"""Settings: projects, API keys, members and roles, and one's own password.

Every action checks the signed-in user's role in the current project on the server: viewers read,
members also create and revoke API keys, admins also manage members; only superusers create projects.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from contrail.server.state import server_state
from contrail.server.ui.session import SignedIn, UiError, safe_next, signed_in
from contrail.server.ui.templating import render
from contrail.store import accounts, projects

router = APIRouter(prefix="/settings")
Who = Annotated[SignedIn, Depends(signed_in)]


@router.get("")
def settings_home() -> RedirectResponse:
    return RedirectResponse("/settings/keys", status_code=303)


@router.get("/projects")
def projects_page(request: Request, who: Who) -> Response:
    return render(request, "settings_projects.html", who, created=None, error=None)


@router.post("/projects")
def create_project(request: Request, who: Who, name: Annotated[str, Form(max_length=200)]) -> Response:
    if not who.user.is_superuser:
        raise UiError(403, "Only superusers can create projects.")
    engine = server_state(request).engine
    try:
        project = projects.create_project(engine, name)
    except projects.ProjectError as exc:
        return render(request, "settings_projects.html", who, status=422, created=None, error=str(exc))
    accounts.set_session_project(engine, who.token, project.id)
    return RedirectResponse(f"/settings/keys?project={project.id}", status_code=303)


@router.post("/project")
def switch_project(
    request: Request, who: Who, project_id: Annotated[str, Form()], next: Annotated[str, Form()] = "/traces"
) -> RedirectResponse:
    if not any(m.project_id == project_id for m in who.projects):
        raise UiError(403, "You are not a member of that project.")
    accounts.set_session_project(server_state(request).engine, who.token, project_id)
    target = safe_next(next).split("?", 1)[0]  # another project's ids mean nothing here
    return RedirectResponse(target, status_code=303)


@router.get("/keys")
def keys_page(request: Request, who: Who) -> Response:
    return _keys(request, who, issued=None)


@router.post("/keys")
def create_key(request: Request, who: Who, note: Annotated[str, Form(max_length=200)] = "") -> Response:
    project = who.require("manage_keys")
    issued = projects.create_key(server_state(request).engine, project.project_id, note.strip() or None)
    return _keys(request, who, issued=issued, status=201)


@router.post("/keys/{public_key}/revoke")
def revoke_key(request: Request, who: Who, public_key: str) -> Response:
    project = who.require("manage_keys")
    state = server_state(request)
    try:
        projects.revoke_key(state.engine, project.project_id, public_key)
    except projects.ProjectError as exc:
        raise UiError(404, str(exc)) from exc
    state.keys.forget(public_key)
    return RedirectResponse(f"/settings/keys?project={project.project_id}", status_code=303)


@router.get("/members")
def members_page(request: Request, who: Who) -> Response:
    return _members(request, who)


@router.post("/members")
def add_member(
    request: Request,
    who: Who,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=12)],
) -> Response:
    project = who.require("manage_members")
    engine = server_state(request).engine
    try:
        checked = accounts.check_role(role)
        user = accounts.find_user(engine, email)
        password = None
        if user is None:
            password = accounts.generate_password()
            user = accounts.create_user(engine, email, password)
    except accounts.AccountError as exc:
        return _members(request, who, error=str(exc), status=422)
    accounts.set_role(engine, user.id, project.project_id, checked)
    return _members(request, who, invited=(user.email, password), status=201)


@router.post("/members/{user_id}/role")
def change_role(request: Request, who: Who, user_id: str, role: Annotated[str, Form()]) -> Response:
    project = who.require("manage_members")
    try:
        checked = accounts.check_role(role)
    except accounts.AccountError as exc:
        raise UiError(422, str(exc)) from exc
    if user_id == who.user.id and checked != "admin" and not who.user.is_superuser:
        raise UiError(422, "You cannot lower your own role; ask another admin.")
    accounts.set_role(server_state(request).engine, user_id, project.project_id, checked)
    return RedirectResponse(f"/settings/members?project={project.project_id}", status_code=303)


@router.post("/members/{user_id}/remove")
def remove_member(request: Request, who: Who, user_id: str) -> Response:
    project = who.require("manage_members")
    if user_id == who.user.id:
        raise UiError(422, "You cannot remove yourself; ask another admin.")
    accounts.remove_member(server_state(request).engine, user_id, project.project_id)
    return RedirectResponse(f"/settings/members?project={project.project_id}", status_code=303)


@router.get("/account")
def account_page(request: Request, who: Who) -> Response:
    return render(request, "settings_account.html", who, message=None, error=None)


@router.post("/account/password")
def change_password(
    request: Request,
    who: Who,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
) -> Response:
    engine = server_state(request).engine
    if not accounts.check_password(engine, who.user.id, current):
        return render(
            request,
            "settings_account.html",
            who,
            status=422,
            message=None,
            error="The current password is wrong.",
        )
    try:
        accounts.set_password(engine, who.user.id, new)
    except accounts.AccountError as exc:
        return render(request, "settings_account.html", who, status=422, message=None, error=str(exc))
    return RedirectResponse("/login", status_code=303)  # every session ended, this one included


def _keys(request: Request, who: Who, issued: projects.IssuedKey | None, status: int = 200) -> Response:
    project = who.require("read")
    keys = projects.list_keys(server_state(request).engine, project.project_id)
    return render(request, "settings_keys.html", who, status=status, keys=keys, issued=issued)


def _members(
    request: Request,
    who: Who,
    *,
    invited: tuple[str, str | None] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    project = who.require("read")
    members = accounts.list_members(server_state(request).engine, project.project_id)
    return render(
        request,
        "settings_members.html",
        who,
        status=status,
        members=members,
        roles=accounts.ROLES,
        invited=invited,
        error=error,
    )
