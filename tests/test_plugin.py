"""The pytest plugin, as a skill developer meets it: fixtures available with no imports, failures that show the chat."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# The inner runs need none of hypothesis' set-up, which costs more than the tests themselves.
ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

WEATHER_SKILL = '''
from skills_sdk import Skill, ask, say

skill = Skill("weather", developer_id="dev-weather", invocation_name="sky watch")

@skill.launch
def hello(ctx):
    return ask("Sky watch here. Which city?")

@skill.intent("ForecastIntent", samples=["weather in {city}"], slots={"city": "AMAZON.SearchQuery"})
def forecast(ctx, city=None):
    data = ctx.http.get(f"https://api.weather.example/v1/today?city={city}", timeout=2).json()
    return say(f"Today in {city}: {data['summary']}.").end()
'''

DEVELOPER_TEST = '''
from weather import skill

def test_forecast(skill_client, partners):
    partners.get("https://api.weather.example/v1/today", json={"summary": "%s"})
    client = skill_client(skill)
    client.say("open sky watch")
    client.say("weather in paris")
    client.assert_said("sunny")
    client.assert_ended()
'''


def test_a_developer_test_using_the_fixtures_passes(pytester):
    pytester.makepyfile(weather=WEATHER_SKILL, test_weather=DEVELOPER_TEST % "sunny")
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_a_wrong_expectation_fails_showing_the_conversation(pytester):
    pytester.makepyfile(weather=WEATHER_SKILL, test_weather=DEVELOPER_TEST % "light rain")
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*Expected the skill to say 'sunny'*",
        "*but it said 'Today in paris: light rain.'*",
        "*Conversation with skill 'weather' (2 turns)*",
        "*user * > 'open sky watch'  [[]LaunchRequest[]]*",
        "*weather < 'Sky watch here. Which city?'*",
        "*user * > 'weather in paris'  [[]ForecastIntent city=paris[]]*",
    ])


def test_an_unmocked_partner_call_never_reaches_the_network(pytester):
    pytester.makepyfile(weather=WEATHER_SKILL, test_weather='''
from weather import skill

def test_forecast(skill_client, partners):
    client = skill_client(skill)
    client.say("weather in paris")
    client.assert_said("Sorry")
    assert "ConnectionError" in client.last.error
''')
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_a_test_without_partners_reaches_loopback_only_and_is_told_how_to_mock(pytester):
    """A test that forgot the partners fixture made a real DNS lookup and POST: its partner's production API."""
    pytester.makepyfile(weather=WEATHER_SKILL, test_weather='''
import http.server, threading
from weather import skill

def test_forecast_forgets_partners(skill_client):
    client = skill_client(skill)
    client.say("weather in Oslo")
    client.assert_said("Today in Oslo")

def test_a_local_stand_in_stays_reachable(skill_client):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"local")
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = skill_client(skill)
    try:
        assert client.host.http.get(f"http://127.0.0.1:{server.server_port}/", timeout=2).text == "local"
    finally:
        server.shutdown()
''')
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*This test called GET https://api.weather.example/v1/today?city=oslo, a partner's "
                                 "real API: tests reach no network. Ask for the `partners` fixture*"])


def test_transcript_store_and_partner_session_fixtures(pytester):
    pytester.makeini("[pytest]\nskills_partner_session = example_skills:partner_session\n")
    pytester.makepyfile(test_pizza='''
from example_skills import pizza

def test_order(skill_client, transcript_store, partner_session):
    client = skill_client(pizza.create_skill(), store=transcript_store, http=partner_session)
    client.say("order a small ham pizza")
    client.say("yes")
    client.assert_transaction("pizza_order")
    # Alexa's dialog model asked "shall I place the order" itself: only the completed order reached the skill.
    assert transcript_store.count(skill="pizza") == 1
    assert str(transcript_store.path).endswith("transcripts.db")
''')
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_the_plugin_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, skills_sdk.pytest_plugin as p; "
            "heavy = [m for m in ('flask', 'sqlite_utils', 'requests', 'responses', 'skills_sdk.testing') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("spec", "said"), [
    ("weather:partner_sesion", "'weather' has no attribute 'partner_sesion'"),
    ("weather.partner_session", "cannot import 'weather.partner_session'; name the factory as module:attr"),
    ("weather:skill", "names a Skill, not the function that makes your skills' session"),
])
def test_a_partner_session_setting_that_names_no_factory_is_a_usage_error_naming_it(pytester, spec, said):
    pytester.makeini(f"[pytest]\nskills_partner_session = {spec}\n")
    pytester.makepyfile(weather=WEATHER_SKILL, test_weather="def test_it(partner_session):\n    pass\n")
    result = pytester.runpytest(*ARGS)
    assert result.ret != 0
    result.stdout.fnmatch_lines([f"*skills_partner_session = {spec} (your pytest configuration)*"])
    assert said in result.stdout.str() + result.stderr.str()
