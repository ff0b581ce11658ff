use std::f64::consts::{FRAC_PI_2, PI};

use super::*;

fn parse(text: &str) -> anyhow::Result<RenderConfig> {
    RenderConfig::parse(text, "test.toml")
}

fn error(text: &str) -> String {
    format!("{:#}", parse(text).unwrap_err())
}

#[test]
fn an_empty_file_is_the_reference() {
    let c = parse("# nothing\n").unwrap();
    assert_eq!(c.train, FactorSet::reference());
    assert_eq!(c.val, FactorSet::reference());
    assert_eq!(c.settings, DatasetSettings::default());
    assert_eq!(c.hash(), RenderConfig::reference().hash());
}

#[test]
fn reads_settings_factors_and_split_overrides() {
    let c = parse(
        r#"
[split.val]
rotation_x = { union = [["-pi", "-pi/2"], ["pi/2", "pi"]] }

[dataset]
views = 8
image_size = 64
seed = 3
jpeg_quality = 90
latent = "translation"
val_fraction = 0.25

[factors]
rotation = "euler"
translation_x = { uniform = [-0.5, 0.5] }
translation_frame = "world"
floor_saturation = 0.3
camera_focal_length = { set = [35, 50] }
"#,
    )
    .unwrap();
    let s = &c.settings;
    assert_eq!((s.views, s.image_size, s.seed, s.jpeg_quality, s.val_fraction), (8, 64, 3, 90, 0.25));
    assert_eq!(s.latent, LatentFormat::Translation);
    for set in [&c.train, &c.val] {
        assert_eq!(set.rotation, RotationMode::Euler);
        assert_eq!(set.translation_frame, TranslationFrame::World);
        assert_eq!(*set.get(Factor::TranslationX), Distribution::Uniform { min: -0.5, max: 0.5 });
        assert_eq!(*set.get(Factor::FloorSaturation), Distribution::Fixed(0.3));
        assert_eq!(*set.get(Factor::CameraFocalLength), Distribution::Set(vec![35.0, 50.0]));
    }
    // The override applies to val only, even though it comes before [factors] in the file.
    assert_eq!(*c.train.get(Factor::RotationX), Distribution::Uniform { min: -FRAC_PI_2, max: FRAC_PI_2 });
    assert_eq!(*c.val.get(Factor::RotationX), Distribution::Union(vec![(-PI, -FRAC_PI_2), (FRAC_PI_2, PI)]));
    assert_ne!(c.hash(), RenderConfig::reference().hash());
}

#[test]
fn every_rejection_names_the_file_and_the_key() {
    for (text, want) in [
        ("colour = 1", "test.toml: unknown key \"colour\""),
        ("[factors]\nfloor_hues = 0.5", "test.toml: factors.floor_hues: unknown key"),
        (
            "[factors]\nrotation_x = { uniform = [1, 0] }",
            "test.toml: factors.rotation_x: uniform: min 1 > max 0",
        ),
        ("[factors]\nspot_power = -1", "test.toml: factors.spot_power: values from -1 to -1 leave"),
        (
            "[factors]\nfloor_value = { uniform = [0.5, 1.5] }",
            "test.toml: factors.floor_value: values from 0.5 to 1.5",
        ),
        ("[factors]\nscale = 0", "test.toml: factors.scale"),
        ("[factors]\ncamera_elevation = \"pi/2\"", "test.toml: factors.camera_elevation"),
        ("[factors]\ncamera_distance = 0.05", "test.toml: factors.camera_distance"),
        ("[factors]\nspot_cone_angle = 0", "test.toml: factors.spot_cone_angle"),
        ("[factors]\nrotation_y = nan", "test.toml: factors.rotation_y: NaN is not a finite"),
        (
            "[factors]\nrotation = \"quaternion\"",
            "test.toml: factors.rotation: expected \"euler\" or \"so3\"",
        ),
        ("[factors]\ntranslation_frame = \"camera\"", "test.toml: factors.translation_frame"),
        ("[factors]\nsun_strength = { set = [] }", "test.toml: factors.sun_strength: set: no values"),
        ("[split.test]\nscale = 2", "test.toml: split.test: unknown split"),
        ("[split.val]\nscale = -2", "test.toml: split.val.scale"),
        ("[dataset]\nviews = 0", "test.toml: dataset.views: 0 is out of range"),
        ("[dataset]\nviews = -3", "test.toml: dataset.views: -3 is out of range"),
        ("[dataset]\nviews = 4294967295", "test.toml: dataset.views: 4294967295 is out of range"),
        ("[dataset]\nimage_size = 9000", "test.toml: dataset.image_size"),
        ("[dataset]\njpeg_quality = 101", "test.toml: dataset.jpeg_quality"),
        ("[dataset]\nval_fraction = 1.5", "test.toml: dataset.val_fraction: 1.5 is not in [0, 1]"),
        ("[dataset]\nval_fraction = nan", "test.toml: dataset.val_fraction"),
        ("[dataset]\nlatent = \"quaternion\"", "test.toml: dataset.latent"),
        ("[dataset]\nresolution = 64", "test.toml: dataset.resolution: unknown key"),
        ("factors = 3", "test.toml: factors: expected a table"),
        ("[factors\n", "test.toml: not valid TOML"),
        // Extreme floats (issue cases 9-12): no upper bound on power, translation or scale, and
        // ranges whose width overflows, are refused before anything is rendered.
        ("[factors]\nspot_power = 1e308", "test.toml: factors.spot_power: values from 1e308"),
        ("[factors]\nsun_strength = 1e308", "test.toml: factors.sun_strength: values from 1e308"),
        ("[factors]\ntranslation_x = 1e308", "test.toml: factors.translation_x: values from 1e308"),
        ("[factors]\nscale = 1e-308", "test.toml: factors.scale: values from 1e-308"),
        (
            "[factors]\nrotation_x = { uniform = [-1e308, 1e308] }",
            "test.toml: factors.rotation_x: uniform: the width max - min",
        ),
        ("[factors]\nfloor_hue = { uniform = [-1e308, 1e308] }", "test.toml: factors.floor_hue: uniform"),
        ("[factors]\nfloor_hue = { uniform = [-1e300, -1e299] }", "test.toml: factors.floor_hue: values from"),
        ("[factors]\ncamera_azimuth = { set = [0, 1e308] }", "test.toml: factors.camera_azimuth"),
        // Conflicting keys: SO(3) draws the whole rotation.
        (
            "[factors]\nrotation = \"so3\"\nrotation_x = 0.5",
            "test.toml: factors of the train split: rotation = \"so3\" and rotation_x = {\"fixed\":0.5} conflict",
        ),
        ("[factors]\nrotation = \"so3\"\n[split.val]\nrotation_z = 0", "factors of the val split"),
    ] {
        let e = error(text);
        assert!(e.contains(want), "{text:?}: got {e:?}, want {want:?}");
    }
}

#[test]
fn every_preset_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            RenderConfig::read(&path).unwrap_or_else(|e| panic!("{e:#}"));
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    let want = [
        "3diebench-ood.toml",
        "3diebench-t.toml",
        "3diebench.toml",
        "colour-only.toml",
        "first-run.toml",
        "rotation-only.toml",
        "so3.toml",
        "z-rotation-only.toml",
    ];
    assert_eq!(seen, want);
    let reference = RenderConfig::read(&dir.join("3diebench.toml")).unwrap();
    assert_eq!(reference.hash(), RenderConfig::reference().hash(), "3diebench.toml must be the reference");
}

#[test]
fn the_recorded_form_reads_back_and_takes_changes() {
    let c = parse("[dataset]\nviews = 8\nlatent = \"translation\"\n[factors]\nscale = { set = [0.5, 1] }\n[split.val]\nrotation = \"so3\"\n").unwrap();
    let back = RenderConfig::from_recorded(&c.to_json(), "manifest.json").unwrap();
    assert_eq!(
        (back.settings.clone(), back.train.clone(), back.val.clone()),
        (c.settings.clone(), c.train.clone(), c.val.clone())
    );
    assert_eq!(back.hash(), c.hash());
    // Changes apply on top: the views and the scale stay, the floor changes.
    let changed = back.with_changes("[factors]\nfloor_hue = 0.1\n", "colour.toml").unwrap();
    assert_eq!(changed.settings.views, 8);
    assert_eq!(*changed.val.get(Factor::Scale), Distribution::Set(vec![0.5, 1.0]));
    assert_eq!(*changed.train.get(Factor::FloorHue), Distribution::Fixed(0.1));
    assert_eq!(changed.val.rotation, RotationMode::So3);
    let e = format!(
        "{:#}",
        RenderConfig::from_recorded(&serde_json::json!({"dataset": {}}), "m.json").unwrap_err()
    );
    assert!(e.contains("m.json: no /factors/train"), "{e}");
}

#[test]
fn errors_print_keys_and_values_escaped_and_bounded() {
    let long = "k".repeat(5000);
    let e = error(&format!("[factors]\n{long} = 1"));
    assert!(e.len() < 700 && e.contains("kkk...: unknown key"), "{e}");
    let e = error("[factors]\n\"floor\u{200b}hue\" = 1");
    assert!(e.contains("factors.floor\\u{200b}hue: unknown key"), "{e}");
    let e = error("[factors]\nfloor_hue = \"1\u{200b}\"");
    assert!(e.contains("\"1\\u{200b}\" is not a number"), "{e}");
    // TOML's own message quotes the line: escaped too.
    let e = error("[factors]\nfloor_hue = \"1\u{7}\"");
    assert!(e.contains("floor_hue = \"1\\u{7}\"") && !e.contains('\u{7}'), "{e}");
}
