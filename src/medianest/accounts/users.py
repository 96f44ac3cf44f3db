"""Admin management of users: list, create, change role/status/password, delete."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.api_keys import revoke_user_keys
from medianest.accounts.models import ROLE_ADMIN, STATUS_ACTIVE, User
from medianest.accounts.passwords import Passwords, check_rules
from medianest.accounts.schemas import UserPatch
from medianest.accounts.service import create_user, end_sign_ins
from medianest.audit.service import record
from medianest.errors import Conflict, NotFound


async def list_users(session: AsyncSession, offset: int, limit: int) -> tuple[list[User], int]:
    total = await session.scalar(select(func.count()).select_from(User)) or 0
    rows = await session.scalars(select(User).order_by(User.id).offset(offset).limit(limit))
    return list(rows), total


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def add_user(session: AsyncSession, actor: User | None, username: str, password: str, role: str) -> User:
    user = await create_user(session, username, password, role)
    record(session, "user.create", actor, target=f"user:{user.id}", username=username, role=role)
    await session.commit()
    return user


async def patch_user(session: AsyncSession, actor: User | None, user_id: int, patch: UserPatch) -> User:
    user = await get_user(session, user_id)
    changes = patch.model_dump(exclude_none=True)
    if "password" in changes:
        changes["password"] = "changed"  # the trail says that it changed, never to what
    record(session, "user.update", actor, target=f"user:{user.id}", **changes)
    if patch.role is not None and patch.role != user.role:
        if user.role == ROLE_ADMIN:
            await _keep_an_admin(session, user)
        user.role = patch.role
    if patch.status is not None and patch.status != user.status:
        if patch.status != STATUS_ACTIVE:
            await _keep_an_admin(session, user)
            await end_sign_ins(session, user.id)
            await revoke_user_keys(session, user.id)  # reactivation does not bring them back
        user.status = patch.status
    if patch.password is not None:
        check_rules(patch.password)
        user.password_hash = await Passwords.of(session).hash(patch.password)
        await end_sign_ins(session, user.id)
    await session.commit()
    return user


async def delete_user(session: AsyncSession, actor: User | None, user_id: int) -> None:
    user = await get_user(session, user_id)
    await _keep_an_admin(session, user)
    record(session, "user.delete", actor, target=f"user:{user.id}", username=user.username)
    await session.delete(user)
    await session.commit()


async def set_password(session: AsyncSession, username: str, password: str) -> User:
    check_rules(password)  # before building the patch, whose own validation would be a raw pydantic error
    user = await session.scalar(select(User).where(User.username_key == username.lower()))
    if user is None:
        raise NotFound("user", username)
    return await patch_user(session, None, user.id, UserPatch(password=password))


async def _keep_an_admin(session: AsyncSession, user: User) -> None:
    """Refuse a change that would leave the server with no active admin."""
    if user.role != ROLE_ADMIN or user.status != STATUS_ACTIVE:
        return
    admins = await session.scalar(
        select(func.count()).select_from(User).where(User.role == ROLE_ADMIN, User.status == STATUS_ACTIVE)
    )
    if (admins or 0) <= 1:
        raise Conflict("this is the last active admin")
