"""A batch's settings: the contract's defaults, clear errors, the wire form, presets on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchkit.config import (
    PRODUCTION,
    REFERENCE,
    BatchConfig,
    Profile,
    ServerOptions,
    list_presets,
    load_preset,
    presets_dir,
    save_preset,
)
from batchkit.contract import (
    AUDIO_VOICES,
    ImageStyle,
    ModelVoice,
    OptionLimits,
    OptionsResponse,
    PipelineStep,
    UploadedFile,
    WordRange,
)
from batchkit.errors import ConfigError

STORY, IMAGES, AUDIO, MERGE = PipelineStep


def uploaded(name: str) -> UploadedFile:
    path = f"uploads/original/{name}"
    return UploadedFile(file_url=f"http://srv/{path}", file_name=name, file_size=10, file_path=path)


# ---------------------------------------------------------------- defaults and the wire
def test_defaults_are_the_contracts_and_every_field_is_sent() -> None:
    config = BatchConfig()
    assert config.audio_voice == "Achird"
    assert config.image_style is ImageStyle.REALISTIC
    assert config.model_voice is ModelVoice.FLASH
    assert (config.words_per_chunk_image, config.words_per_chunk_audio) == (500, 500)
    assert config.to_auto_mode().to_wire() == {
        "enabled": True,
        "generateStory": True,
        "generateImages": True,
        "generateAudio": True,
        "mergeAudio": True,
        "audioVoice": "Achird",
        "modelVoice": "gemini-2.5-flash-preview-tts",
        "wordPerChunkImage": 500,
        "wordPerChunkAudio": 500,
        "imageStyle": "realistic",
    }


def test_auto_mode_off_sends_only_enabled_false_and_runs_no_step() -> None:
    config = BatchConfig(auto_mode=False, image_style="anime")
    assert config.to_auto_mode().to_wire() == {"enabled": False}
    assert config.enabled_steps() == ()


def test_chunk_prompts_are_sent_when_set() -> None:
    wire = BatchConfig(custom_prompt_image="ink sketch", custom_prompt_audio=" ").to_auto_mode()
    assert wire.custom_prompt_image == "ink sketch"
    assert "customPromptAudio" not in wire.to_wire()


@pytest.mark.parametrize(
    ("settings", "steps"),
    [
        ({}, (STORY, IMAGES, AUDIO, MERGE)),
        ({"generate_images": False}, (STORY, AUDIO, MERGE)),
        ({"generate_audio": False}, (STORY, IMAGES)),  # merge needs audio
        ({"merge_audio": False}, (STORY, IMAGES, AUDIO)),
        ({"generate_story": False, "generate_audio": False}, (IMAGES,)),
        ({"generate_images": False, "generate_audio": False}, (STORY,)),
        ({"auto_mode": False}, ()),
    ],
)
def test_enabled_steps_follow_the_pipeline_order(
    settings: dict[str, bool], steps: tuple[PipelineStep, ...]
) -> None:
    assert BatchConfig(**settings).enabled_steps() == steps


def test_story_inputs_carry_each_files_title_and_prompt_in_upload_order() -> None:
    config = BatchConfig(
        titles={"b.docx": "  The Second Tide  ", "a.txt": ""},
        prompts={"a.txt": "Make it a ghost story."},
    )
    inputs = config.story_inputs([uploaded("a.txt"), uploaded("b.docx")])
    assert [item.to_wire() for item in inputs] == [
        {"customPrompt": "Make it a ghost story.", "fileUrl": "http://srv/uploads/original/a.txt"},
        {"title": "The Second Tide", "fileUrl": "http://srv/uploads/original/b.docx"},
    ]


# ---------------------------------------------------------------- clear errors
@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        (
            {"words_per_chunk_image": 20},
            "words_per_chunk_image",
            "between 50 and 2000 words, not 20",
        ),
        ({"words_per_chunk_audio": 2001}, "words_per_chunk_audio", "not 2001"),
        ({"words_per_chunk_audio": 99.5}, "words_per_chunk_audio", "must be a whole number"),
        ({"audio_voice": "achird"}, "audio_voice", "did you mean 'Achird'?"),
        ({"audio_voice": "Zepyr"}, "audio_voice", "did you mean 'Zephyr'?"),
        ({"image_style": "pixel-art"}, "image_style", "'pixel-art' is not one of 'realistic'"),
        ({"model_voice": "tts-1"}, "model_voice", "'tts-1' is not one of"),
        ({"generate_images": "yes"}, "generate_images", "must be true or false"),
        ({"custom_prompt_image": "x" * 20_001}, "custom_prompt_image", "20,001 characters"),
        (
            {"titles": {"a.txt": "t" * 201}},
            "titles[a.txt]",
            "201 characters long; the limit is 200",
        ),
        ({"prompts": {"a.txt": "p" * 2001}}, "prompts[a.txt]", "the limit is 2,000"),
        ({"prompts": {"": "text"}}, "prompts (a file name)", "must not be empty"),
        ({"auto_mod": True}, "auto_mod", "is not a setting; did you mean 'auto_mode'?"),
    ],
)
def test_a_bad_setting_raises_one_config_error_naming_it(
    settings: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        BatchConfig(**settings)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{field}: ")


def test_several_bad_settings_name_the_first_and_count_the_rest() -> None:
    with pytest.raises(ConfigError, match=r"\(and 2 more problems\)$"):
        BatchConfig(audio_voice="nobody", words_per_chunk_audio=1, image_style="pixel")


def test_replace_validates_the_changed_copy() -> None:
    config = BatchConfig()
    assert config.replace(audio_voice="Kore").audio_voice == "Kore"
    with pytest.raises(ConfigError, match="words_per_chunk_image"):
        config.replace(words_per_chunk_image=10)
    with pytest.raises(Exception, match="frozen"):
        config.audio_voice = "Puck"  # type: ignore[misc]


def test_titles_or_prompts_for_files_not_in_the_run_are_caught() -> None:
    config = BatchConfig(titles={"chapter-1.txt": "One"}, prompts={"chaptr-2.txt": "Two"})
    with pytest.raises(ConfigError, match=r"did you mean 'chapter-2\.txt'") as raised:
        config.check_files(["chapter-1.txt", "chapter-2.txt"])
    assert raised.value.field == "prompts"
    BatchConfig(titles={"chapter-1.txt": "One"}).check_files(["chapter-1.txt"])


# ---------------------------------------------------------------- servers
def test_production_refuses_the_styles_it_crashes_on_with_a_clear_message() -> None:
    options = ServerOptions.builtin()
    for style in ("oil-painting", "digital-art"):
        config = BatchConfig(image_style=style)
        config.check_for(options, REFERENCE)
        with pytest.raises(ConfigError, match="production server fails on") as raised:
            config.check_for(options, "production")
        assert raised.value.field == "image_style"
    BatchConfig(image_style="watercolor").check_for(options, PRODUCTION)
    # With auto mode off the style is never sent, so it cannot hurt.
    BatchConfig(auto_mode=False, image_style="oil-painting").check_for(options, PRODUCTION)


def test_a_server_with_narrower_options_refuses_what_it_does_not_offer() -> None:
    response = OptionsResponse(
        image_styles=["realistic", "anime"],
        audio_voices=["Kore", "Puck"],
        model_voices=["gemini-2.5-flash-preview-tts"],
        limits=OptionLimits(
            max_files=5,
            max_file_bytes=1_000_000,
            max_stories=8,
            word_per_chunk=WordRange(min=100, max=1000),
            custom_prompt_max=50,
            title_max=20,
        ),
    )
    options = ServerOptions.from_response(response)
    assert options.from_server
    assert (options.max_files, options.words_per_chunk_min, options.title_max) == (5, 100, 20)
    cases: list[tuple[dict[str, object], str, str]] = [
        ({"audio_voice": "Achird"}, "audio_voice", "does not offer 'Achird'"),
        ({"image_style": "comic"}, "image_style", "it offers realistic, anime"),
        ({"words_per_chunk_audio": 1500}, "words_per_chunk_audio", "takes 100–1000 words"),
        ({"titles": {"a.txt": "x" * 21}}, "titles[a.txt]", "the limit is 20 on this server"),
    ]
    for settings, field, message in cases:
        with pytest.raises(ConfigError, match=message) as raised:
            BatchConfig(**{"audio_voice": "Kore", **settings}).check_for(options)  # type: ignore[arg-type]
        assert raised.value.field == field
    BatchConfig(audio_voice="Puck").check_for(options)


def test_builtin_options_are_the_contracts_lists() -> None:
    options = ServerOptions.builtin()
    assert not options.from_server
    assert options.audio_voices == AUDIO_VOICES
    assert len(options.audio_voices) == 30
    assert options.image_styles == tuple(style.value for style in ImageStyle)
    assert (options.max_files, options.max_file_bytes, options.max_stories) == (10, 10 << 20, 20)


def test_profiles_differ_where_production_does() -> None:
    assert Profile.named("Production") is PRODUCTION
    assert Profile.named(REFERENCE) is REFERENCE
    assert PRODUCTION.upload_path == "/api/file-upload/batch-upload"
    assert REFERENCE.upload_path == "/api/stories/batch-upload"
    assert PRODUCTION.max_file_bytes == REFERENCE.max_file_bytes - 1
    assert not PRODUCTION.honours_idempotency_key
    assert REFERENCE.honours_idempotency_key
    assert REFERENCE.with_upload_path("/v2/upload").upload_path == "/v2/upload"
    with pytest.raises(ConfigError, match="unknown profile 'staging'; use reference, production"):
        Profile.named("staging")
    with pytest.raises(ConfigError, match="must start with '/'"):
        REFERENCE.with_upload_path("upload")


# ---------------------------------------------------------------- presets
def test_a_preset_saved_to_disk_loads_back_equal(tmp_path: Path) -> None:
    config = BatchConfig(
        image_style="watercolor",
        audio_voice="Kore",
        words_per_chunk_audio=250,
        titles={"ünïcode.txt": "Café ☕"},
        prompts={"a.docx": "Slow and gentle."},
    )
    path = config.save(tmp_path / "nested" / "gentle.json")
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "batchkit-preset/1"
    assert BatchConfig.load(path) == config
    assert not list(path.parent.glob(".*partial")), "no half-written file is left behind"


def test_a_bare_json_object_of_settings_loads_too(tmp_path: Path) -> None:
    path = tmp_path / "hand-written.json"
    path.write_text('{"generate_audio": false, "image_style": "comic"}')
    loaded = BatchConfig.load(path)
    assert loaded.enabled_steps() == (STORY, IMAGES)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no preset file at"),
        ("{not json", "is not a readable JSON preset"),
        ("[1, 2]", "does not hold an object of settings"),
        ('{"words_per_chunk_image": 5}', "words_per_chunk_image: must be between"),
    ],
)
def test_a_bad_preset_file_is_a_config_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "preset.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        BatchConfig.load(path)


def test_named_presets_live_in_one_folder_and_names_cannot_escape_it(tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    save_preset(BatchConfig(image_style="anime"), "Anime night", folder)
    save_preset(BatchConfig(auto_mode=False), "create-only", folder)
    assert list_presets(folder) == ["Anime night", "create-only"]
    assert load_preset("Anime night", folder).image_style is ImageStyle.ANIME
    for bad in ("../outside", "", ".hidden", "a/b", "x" * 65):
        with pytest.raises(ConfigError, match="a preset name has"):
            save_preset(BatchConfig(), bad, folder)
    assert not (tmp_path / "outside.json").exists()
    with pytest.raises(ConfigError, match=r"no preset named 'nope' \(saved presets: Anime night"):
        load_preset("nope", folder)


def test_the_presets_folder_comes_from_the_environment() -> None:
    assert presets_dir({"BATCHKIT_PRESETS_DIR": "/data/p"}) == Path("/data/p")
    assert presets_dir({"XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/batchkit/presets")
