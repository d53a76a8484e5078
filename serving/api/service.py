"""The HTTP service (BentoML 1.4, class-based): ranked outreach lists with reasons.

Run it with ``reactivate serve`` (or ``bentoml serve serving.api.service:Reactivate``). It reads
its settings from the environment (``REACTIVATE_*``, plus ``REACTIVATE_CONFIG`` naming a
settings file), loads the registry's champion and the newest scored snapshot once, and
re-checks both every ``serving.reload_seconds``.

Endpoints (bearer token required except on health and docs paths):

* ``POST /rank``  - a clinic's best eligible patients under a campaign's filters;
* ``POST /score`` - named patients of a clinic, with the policy's verdict;
* ``POST /campaigns`` - start a campaign: the /rank list split into treatment and holdout;
* ``GET /campaigns/{campaign_id}/due`` - a sequence campaign's attempts due on a day,
  re-planned from every outcome posted so far;
* ``POST /outcomes`` - what happened to contacts and bookings (the policy sees it at once);
* ``GET /campaigns/{campaign_id}/results`` - what a campaign did, against its holdout;
* ``GET /model``  - served version, training window, metrics vs baselines, reload status;
* ``GET /drift``  - the latest drift summary (404 until monitoring has written one).

The endpoint methods stay thin: the work is in :mod:`serving.api.handlers` and below.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import bentoml
import numpy as np
from fastapi import FastAPI, Query, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from features.config import Settings
from serving.api import campaigns, handlers, heap
from serving.api.admission import AdmissionMiddleware
from serving.api.auth import BearerAuthMiddleware, clinics_in_scope
from serving.api.campaign_models import (
    CampaignRequest,
    CampaignResponse,
    CampaignResults,
    DueResponse,
    OutcomesRequest,
    OutcomesResponse,
)
from serving.api.docs import DocsMiddleware
from serving.api.errors import ValidationErrorMiddleware, quiet_validation_logs
from serving.api.guard import RequestGuardMiddleware
from serving.api.models import (
    ErrorBody,
    ModelInfo,
    RankRequest,
    RankResponse,
    ScoreRequest,
    ScoreResponse,
    error_body,
)
from serving.api.state import Served, ServingState

logger = logging.getLogger(__name__)

GIL_SWITCH_SECONDS = 0.0005
# Pages of more records than this are built and serialised on the page threads, so one
# request for 5,000 patients never holds the event loop (and the health checks) for long.
INLINE_ROWS = 200
# Health probes too: they run every few seconds, tracing them tells nobody anything, and
# every step they skip is one less wait for the GIL while the page threads are busy.
UNTRACED_ROUTES = ["/rank", "/score", "/outcomes", "/livez", "/readyz", "/healthz"]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "Missing or unknown token",
        404: "Nothing to report yet",
        503: "Nothing loaded yet",
    }.items()
}

http = FastAPI(title="reactivate", docs_url=None, redoc_url=None, openapi_url=None)


async def explain_pending(served: Served, rows: np.ndarray,
                          ordering: str | None = None) -> None:
    """Explain the ``rows`` not explained yet on a worker thread (TreeSHAP frees the GIL).

    ``ordering``: the list's ordering (its reasons explain that ordering's score; None: the
    bundle's default ordering).
    """
    store = served.explanations_for(ordering)
    pending = store.pending(rows)
    if len(pending):
        await asyncio.to_thread(store.prepare, pending)


async def off_loop(
    pool: ThreadPoolExecutor, rows: int, build: Callable[..., BaseModel], *args: Any
) -> BaseModel | Response:
    """``build(*args)``: inline for a small page, else on ``pool`` and serialised there too."""
    if rows <= INLINE_ROWS:
        return build(*args)

    def build_and_serialise() -> Response:
        return Response(build(*args).model_dump_json(), media_type="application/json")

    return await asyncio.get_running_loop().run_in_executor(pool, build_and_serialise)


def _error(ctx: bentoml.Context, error: handlers.ApiError) -> JSONResponse:
    ctx.response.status_code = error.status
    return JSONResponse(error_body(error.message, error.field), status_code=error.status)


@bentoml.asgi_app(http, path="/")
@bentoml.service(
    name="reactivate",
    workers=1,
    traffic={"timeout": 60},
    # BentoML samples no traces unless an operator configures tracing, yet its OpenTelemetry
    # middleware costs about 1 ms per request. The data and health routes skip it by default; an
    # operator's ``services.reactivate.tracing.excluded_urls`` overrides this (docs/serving.md).
    tracing={"excluded_urls": UNTRACED_ROUTES},
)
class Reactivate:
    """Who to contact this week, how, and why: ranked lists from the scored snapshot."""

    def __init__(self) -> None:
        quiet_validation_logs()
        # Background threads (explanation warm-up, reload checks, explaining a request's
        # new rows) hold the GIL in Python stretches: hand it over sooner than the default
        # 5 ms so the event loop answering requests is not left waiting behind them.
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        self.settings = Settings.from_environment()
        # After each load, freeze the long-lived heap out of the collector's full passes:
        # one such pass held the GIL (and the health checks) for 0.2-0.3 s (serving.api.heap).
        self.state = ServingState(self.settings, on_swap=self._swapped)
        self.outcomes = campaigns.Outcomes(self.settings)
        self.pages = ThreadPoolExecutor(self.settings.serving.page_threads, "page")
        self.state.start()

    def _swapped(self) -> None:
        """A new pair is served: settle the heap, then prepare the stored campaigns for it."""
        heap.settle()
        served = self.state.current
        if served is not None:
            self.outcomes.warm(served)

    async def __is_ready__(self) -> bool:
        """Ready once a valid model and snapshot are loaded.

        A coroutine, so BentoML does not send the probe through its thread pool, where it
        would queue behind ranking work.
        """
        return self.state.current is not None

    # The data endpoints are coroutines: selecting and formatting a list takes a few
    # milliseconds of Python that gains nothing from a worker thread but pays for the hop
    # (about 1 ms at p50). Only the slow part, explaining rows not explained yet, leaves
    # the event loop.
    @bentoml.api(route="/rank", input_spec=RankRequest)
    async def rank(self, ctx: bentoml.Context, **body: Any) -> RankResponse:
        """Rank a clinic's contactable patients for a campaign, best first, with reasons."""
        request = RankRequest.model_construct(**body)
        try:
            handlers.authorize(clinics_in_scope(ctx.request.scope), request.clinic_id)
            served = handlers.require(self.state.current)
            served = campaigns.with_outcomes(served, self.outcomes, request.clinic_id, request.on)
            selection = handlers.select(served, request)
            if request.explain:
                await explain_pending(served, selection.rows,
                                      handlers.ordering(served, request)[0])
            return await off_loop(
                self.pages, len(selection.rows), handlers.rank_response,
                served, request, selection, self.settings,
            )
        except handlers.ApiError as error:
            return _error(ctx, error)

    @bentoml.api(route="/campaigns", input_spec=CampaignRequest)
    async def start_campaign(self, ctx: bentoml.Context, **body: Any) -> CampaignResponse:
        """Start a campaign: draw the /rank list, hold a random share out, record both arms."""
        request = CampaignRequest.model_construct(**body)
        try:
            handlers.authorize(clinics_in_scope(ctx.request.scope), request.clinic_id)
            served = handlers.require(self.state.current)
            served = campaigns.with_outcomes(served, self.outcomes, request.clinic_id, request.on)
            started = await asyncio.to_thread(
                campaigns.start_campaign, served, self.outcomes, request, self.settings
            )
            used = handlers.ordering(served, request)[0]
            if request.explain:
                await explain_pending(served, started.treatment.rows, used)
            treatment = campaigns.campaign_records(handlers.build_records(
                served, started.treatment, self.settings, request.explain, request.max_reasons,
                used,
            ), started.sequences)
            return CampaignResponse(
                clinic_id=request.clinic_id,
                campaign_id=request.campaign_id,
                started_at=started.started_at.to_pydatetime(),
                seed=started.seed,
                model_version=served.version,
                snapshot_as_of=served.as_of,
                treatment=treatment,
                holdout_count=started.holdout_count,
            )
        except handlers.ApiError as error:
            return _error(ctx, error)

    @http.get("/campaigns/{campaign_id}/due", response_model=DueResponse,
              responses={**ERRORS, 403: {"model": ErrorBody, "description": "Clinic not in "
                                         "the token's scope"},
                         409: {"model": ErrorBody, "description": "Not a sequence campaign"}})
    async def due(
        self, request: Request, campaign_id: str,
        clinic_id: Annotated[str, Query(min_length=1, max_length=200,
                                        description="The clinic.")],
        on: Annotated[dt.date, Query(description="The day to send (YYYY-MM-DD).")],
    ) -> Any:
        """A sequence campaign's attempts due on ``on``, re-planned from the outcomes so far."""
        try:
            handlers.authorize(clinics_in_scope(request.scope), clinic_id)
            served = handlers.require(self.state.current)
            body = await asyncio.to_thread(
                campaigns.due_json, served, self.outcomes, clinic_id, campaign_id, on)
            return Response(body, media_type="application/json")
        except handlers.ApiError as error:
            return JSONResponse(error_body(error.message, error.field), status_code=error.status)

    @bentoml.api(route="/outcomes", input_spec=OutcomesRequest)
    async def outcomes_batch(self, ctx: bentoml.Context, **body: Any) -> OutcomesResponse:
        """Store a batch of outcome events (idempotent by event_id); refused ones are listed."""
        request = OutcomesRequest.model_construct(**body)
        try:
            handlers.authorize(clinics_in_scope(ctx.request.scope), request.clinic_id)
            served = handlers.require(self.state.current)
            return await asyncio.to_thread(
                campaigns.post_outcomes, served, self.outcomes, request, self.settings
            )
        except handlers.ApiError as error:
            return _error(ctx, error)

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    async def score(self, ctx: bentoml.Context, **body: Any) -> ScoreResponse:
        """Score named patients of a clinic; report the ones not contactable or not found."""
        request = ScoreRequest.model_construct(**body)
        try:
            handlers.authorize(clinics_in_scope(ctx.request.scope), request.clinic_id)
            served = handlers.require(self.state.current)
            served = campaigns.with_outcomes(served, self.outcomes, request.clinic_id, request.on)
            found = handlers.lookup(served, request)
            if request.explain:
                await explain_pending(served, found.selection.rows,
                                      handlers.ordering(served, request)[0])
            return await off_loop(
                self.pages, len(found.selection.rows), handlers.score_response,
                served, request, found, self.settings,
            )
        except handlers.ApiError as error:
            return _error(ctx, error)

    @http.get("/campaigns/{campaign_id}/results", response_model=CampaignResults,
              responses={**ERRORS, 403: {"model": ErrorBody, "description": "Clinic not in scope"}})
    async def campaign_results(self, request: Request, campaign_id: str, clinic_id: str) -> Any:
        """What a stored campaign did: contacted, booked, kept, cost, and lift over its holdout."""
        try:
            handlers.authorize(clinics_in_scope(request.scope), clinic_id)
            served = handlers.require(self.state.current)
            return await asyncio.to_thread(
                campaigns.campaign_results, served, self.outcomes, clinic_id, campaign_id,
                self.settings,
            )
        except handlers.ApiError as error:
            return JSONResponse(error_body(error.message, error.field), status_code=error.status)

    @http.get("/model", response_model=ModelInfo, responses=ERRORS)
    def model(self) -> Any:
        """The served model: version, training window, metrics vs baselines, reload status."""
        try:
            return handlers.model_info(self.state)
        except handlers.ApiError as error:
            return JSONResponse(error_body(error.message), status_code=error.status)

    @http.get("/drift", response_model=dict[str, Any], responses=ERRORS)
    def drift(self) -> Any:
        """The latest drift summary of the monitoring job (404 until one exists)."""
        from serving.monitoring.drift import latest_summary

        summary = latest_summary(self.settings)
        if summary is None:
            message = "no drift summary yet: run `reactivate drift` after scoring"
            return JSONResponse(error_body(message), status_code=404)
        return summary


# Outermost first: docs and auth answer before the admission bound, then the body rules,
# then the routes.
Reactivate.add_asgi_middleware(DocsMiddleware)
Reactivate.add_asgi_middleware(BearerAuthMiddleware)
Reactivate.add_asgi_middleware(AdmissionMiddleware)
Reactivate.add_asgi_middleware(RequestGuardMiddleware)
Reactivate.add_asgi_middleware(ValidationErrorMiddleware)
