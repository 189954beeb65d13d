"""Name attributes of the components resolve without Jinja, and a template written there still renders."""

import pytest

from landing_zone.component_attributes import resolve_name
from landing_zone.defs.elevation.definitions import ElevationPipeline
from landing_zone.defs.stations.definitions import StationNetwork


class NoTemplates:
    """A resolution context that fails if anything is rendered."""

    def resolve_value(self, value: object) -> object:
        raise AssertionError(f"{value!r} was rendered")


class Renders:
    def resolve_value(self, value: object) -> object:
        return ("rendered", value)


@pytest.mark.parametrize("name", ["dtm", "meteo", "hydro_2", "match"])
def test_a_name_resolves_as_itself_without_rendering(name):
    assert resolve_name(NoTemplates(), name) == name


@pytest.mark.parametrize("value", ["{{ env.PRODUCT }}", "None", "True", "12", "dtm\n", "dsm-v2"])
def test_anything_but_a_plain_name_is_rendered_as_before(value):
    assert resolve_name(Renders(), value) == ("rendered", value)


def test_the_components_read_their_names_from_yaml():
    assert ElevationPipeline.resolve_from_yaml("product: dtm").product == "dtm"
    assert StationNetwork.resolve_from_yaml("network: hydro").network == "hydro"


def test_a_template_still_renders():
    assert ElevationPipeline.resolve_from_yaml("product: \"{{ 'ds' ~ 'm' }}\"").product == "dsm"
