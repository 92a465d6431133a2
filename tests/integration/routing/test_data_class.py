"""Data classes through the gateway: a regulated request never reaches a closed API, not even
when the self-hosted deployment is down and a fallback would otherwise take it."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from pointsman.simulator.profiles import Profile
from pointsman.simulator.server import SimServer

from ..conftest import GatewayFactory
from ..governance.admin_client import admin
from .conftest import ask, providers

MODELS = {
    "cloud": [{"provider": "sim", "model": "sim-large"}],  # closed_api: the default
    "private": {
        "deployments": [{"provider": "sim", "model": "onprem-llama", "data_class": "self_hosted"}],
        "fallbacks": ["cloud"],
    },
}
REGULATED = {"x-pointsman-data-class": "regulated"}


async def test_regulated_data_never_falls_back_to_a_closed_api(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    async with start_gateway(providers=providers(quick_sim.port), models=MODELS) as url:
        api = api_factory(url)
        headers, _ = await ask(api, "private", extra_headers=REGULATED)
        assert headers["x-pointsman-deployment"] == "sim/onprem-llama"
        quick_sim.profiles["onprem-llama"] = Profile(name="onprem-llama", down=True)
        with pytest.raises(openai.APIStatusError) as caught:
            await ask(api, "private", extra_headers=REGULATED)
        error = caught.value
        assert error.status_code == 503
        message = str(error)
        assert "sim/onprem-llama" in message
        assert "sim/sim-large: regulated data may not reach a closed_api deployment" in message
        assert "sim/sim-large:data_class" in error.response.headers["x-pointsman-route"]
        assert quick_sim.stats.model("sim-large") == {}  # never called
        # public data may take the fallback
        headers, _ = await ask(api, "private")
        assert headers["x-pointsman-deployment"] == "sim/sim-large"


async def test_key_ceilings_bound_and_default_the_request_class(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    async with start_gateway(providers=providers(quick_sim.port), models=MODELS) as url:
        issued = await admin(
            url, "POST", "/keys", {"name": "clinic", "data_class_ceiling": "regulated"}
        )
        api = api_factory(url, issued["secret"])
        with pytest.raises(openai.PermissionDeniedError) as closed:
            await ask(api, "cloud")  # undeclared: the key's ceiling, regulated
        assert closed.value.code == "data_class_not_allowed"
        assert "No deployment of 'cloud' may take this request (regulated data)" in str(
            closed.value
        )
        headers, _ = await ask(api, "private")
        assert headers["x-pointsman-deployment"] == "sim/onprem-llama"
        headers, _ = await ask(api, "cloud", metadata={"data_class": "internal"})
        assert headers["x-pointsman-deployment"] == "sim/sim-large"  # declared lower: allowed
        with pytest.raises(openai.PermissionDeniedError) as above:
            await ask(api, "private", extra_headers={"x-pointsman-data-class": "restricted"})
        assert above.value.code == "data_class_above_ceiling"
        assert quick_sim.stats.model("sim-large") == {"ok": 1}
