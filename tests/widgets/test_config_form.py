"""The config form shows every setting, disables what does not apply, checks as it is typed.

Driven through the controls' values and buttons' clicks, as the front end would set them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit.config import BatchConfig, ServerOptions
from batchkit.errors import ConfigError
from batchkit.widgets import ConfigForm, config_form

XSS = "<img src=x onerror=alert(1)>.txt"


@pytest.fixture
def form(tmp_path: Path) -> ConfigForm:
    return config_form(presets_dir=tmp_path / "presets")


def test_every_setting_has_a_described_control(form: ConfigForm) -> None:
    settings = set(BatchConfig.model_fields) - {"titles", "prompts"}
    assert settings <= set(form.controls)
    for name in settings:
        control = form.controls[name]
        assert control.description, name
        assert control.tooltip, name
    assert "bk-config-form" in form.widget._dom_classes
    assert form.config == BatchConfig()
    assert form.errors == {}


def test_controls_that_do_not_apply_are_disabled(form: ConfigForm) -> None:
    c = form.controls
    audio_only = ("audio_voice", "model_voice", "words_per_chunk_audio", "merge_audio")
    assert not any(c[name].disabled for name in c)
    c["generate_audio"].value = False
    assert all(c[name].disabled for name in audio_only)
    assert not c["image_style"].disabled
    c["generate_images"].value = False
    assert c["image_style"].disabled
    assert c["words_per_chunk_image"].disabled
    c["generate_audio"].value = True
    assert not any(c[name].disabled for name in audio_only)
    c["auto_mode"].value = False
    assert [name for name in c if not c[name].disabled] == ["auto_mode"]
    assert form.config.auto_mode is False
    c["auto_mode"].value = True
    assert not c["generate_story"].disabled
    assert c["image_style"].disabled


def test_an_invalid_value_shows_its_message_next_to_the_field(form: ConfigForm) -> None:
    form.controls["words_per_chunk_image"].value = 10
    assert set(form.errors) == {"words_per_chunk_image"}
    assert "between 50 and 2000 words" in form.errors["words_per_chunk_image"]
    message = form._messages["words_per_chunk_image"].value
    assert "✗" in message
    assert 'role="alert"' not in message  # described by the field, not shouted on each key
    assert "between 50 and 2000 words, not 10" in message
    with pytest.raises(ConfigError) as raised:
        _ = form.config
    assert raised.value.field == "words_per_chunk_image"
    box = form._boxes["words_per_chunk_image"]
    assert "bk-field-invalid" in box._dom_classes  # outlined where it is
    assert {"box": "bk-field-words-per-chunk-image", "message": "bk-msg-words-per-chunk-image",
            "invalid": True} in form._states.fields  # fmt: skip
    assert form.problems() == [
        ("Words per image", "must be between 50 and 2000 words, not 10")
    ]  # in the label the user sees, not "words_per_chunk_image"
    form.controls["words_per_chunk_audio"].value = 5000  # two problems, two messages
    assert set(form.errors) == {"words_per_chunk_image", "words_per_chunk_audio"}
    form.controls["words_per_chunk_image"].value = 300
    form.controls["words_per_chunk_audio"].value = 300
    assert form.errors == {}
    assert form._messages["words_per_chunk_image"].value == ""
    assert "bk-field-invalid" not in box._dom_classes
    assert all(not state["invalid"] for state in form._states.fields)
    assert form.config.words_per_chunk_image == 300


def test_values_are_checked_as_they_are_typed(form: ConfigForm) -> None:
    # The front end sends a text box's value on every key only with continuous_update; the
    # number boxes' default is to wait until the user leaves the box.
    for name in ("words_per_chunk_image", "words_per_chunk_audio", "custom_prompt_image"):
        assert form.controls[name].continuous_update, name
    form.set_file_names(["a.txt"])
    assert form.controls["titles[a.txt]"].continuous_update
    assert form.controls["prompts[a.txt]"].continuous_update


def test_a_file_name_with_spaces_keeps_its_inline_message(form: ConfigForm) -> None:
    # The field "titles[my story.txt]" was cut at the space, so its message went nowhere.
    form.set_file_names(["my story.txt"])
    form.controls["titles[my story.txt]"].value = "x" * 201
    assert set(form.errors) == {"titles[my story.txt]"}
    assert "the limit is 200" in form._messages["titles[my story.txt]"].value
    assert form._config_message.value == ""  # not shown far away instead
    assert form.problems()[0][0] == "Title of my story.txt"
    with pytest.raises(ConfigError) as raised:
        _ = form.config
    assert raised.value.field == "titles[my story.txt]"
    assert form.describe(raised.value).startswith("Title of my story.txt: is 201 characters")


def test_the_servers_choices_can_come_after_the_form_is_shown(form: ConfigForm) -> None:
    narrow = ServerOptions(
        image_styles=("anime",),
        audio_voices=("Puck",),
        model_voices=("gemini-2.5-flash-preview-tts",),
        words_per_chunk_max=400,
    )
    changes: list[dict[str, str]] = []
    form.on_change(lambda f: changes.append(f.errors))
    form.set_options(narrow)
    assert form.controls["image_style"].options == ("anime",)
    assert form.errors == {"words_per_chunk_image": "this server takes 50–400 words, not 500"}
    assert changes[-1] == form.errors


def test_server_limits_are_checked_too() -> None:
    narrow = ServerOptions(
        image_styles=("anime",),
        audio_voices=("Puck",),
        model_voices=("gemini-2.5-flash-preview-tts",),
        words_per_chunk_max=400,
    )
    form = config_form(options=narrow)
    assert form.controls["image_style"].options == ("anime",)
    assert form.errors == {"words_per_chunk_image": "this server takes 50–400 words, not 500"}


def test_per_file_titles_and_prompts(form: ConfigForm) -> None:
    form.set_file_names(["a.txt", XSS])
    form.controls["titles[a.txt]"].value = "A story"
    form.controls[f"prompts[{XSS}]"].value = "Make it short"
    assert form.config.titles == {"a.txt": "A story"}
    assert form.config.prompts == {XSS: "Make it short"}
    shown = "".join(str(row.children[0].value) for row in form._per_file.children)
    assert XSS not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in shown
    form.controls["titles[a.txt]"].value = "x" * 201
    assert "is 201 characters long; the limit is 200" in form.errors["titles[a.txt]"]
    assert "200" in form._messages["titles[a.txt]"].value
    form.controls["titles[a.txt]"].value = "Kept"
    form.set_file_names(["b.txt", "a.txt"])  # typed values survive a new list
    assert form.controls["titles[a.txt]"].value == "Kept"
    assert form.config.titles == {"a.txt": "Kept"}
    form.set_file_names(["b.txt"])
    assert form.config.titles == {}


def test_presets_are_saved_and_loaded(form: ConfigForm) -> None:
    form.controls["image_style"].value = "anime"
    form.controls["words_per_chunk_audio"].value = 250
    form.presets.name.value = "anime short"
    form.presets.save_button.click()
    assert form.presets.choice.options == ("anime short",)
    assert "saved as anime short" in form.presets.status.value
    form.controls["image_style"].value = "comic"
    form.controls["words_per_chunk_audio"].value = 900
    changes: list[BatchConfig] = []
    form.on_change(lambda f: changes.append(f.config))
    form.presets.choice.value = "anime short"
    form.presets.load_button.click()
    assert form.config.image_style == "anime"
    assert form.config.words_per_chunk_audio == 250
    assert changes[-1] == form.config
    form.presets.name.value = "../escape"
    form.presets.save_button.click()
    assert "a preset name has" in form.presets.message.value


def test_on_change_is_told_of_every_edit(form: ConfigForm) -> None:
    seen: list[bool] = []
    stop = form.on_change(lambda f: seen.append(f.controls["generate_images"].value))
    form.controls["generate_images"].value = False
    stop()
    form.controls["generate_images"].value = True
    assert seen == [False]
