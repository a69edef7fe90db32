"""The bare FastAPI app the API benchmark compares against: one route, a constant JSON body."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
def bare() -> dict[str, bool]:
    return {"ok": True}
