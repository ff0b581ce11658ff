//! The built-in library is valid input for the renderer: every object loads without a warning.

use renderer::job::objects::{obj_path, ShapeNetTree};
use renderer::mesh::load_obj;

#[test]
fn every_generated_object_loads_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let written = synth::generate_library(dir.path(), 3, 0).unwrap();
    let tree = ShapeNetTree::open(dir.path()).unwrap();
    let found = tree.discover().unwrap();
    assert_eq!(found, written, "discovery sees exactly the generated objects");
    assert_eq!(tree.synsets.len(), synth::classes().len());
    assert!(tree.synsets.len() >= 10);
    for key in &found {
        let path = obj_path(dir.path(), key);
        let mesh = load_obj(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        assert!(mesh.warnings.is_empty(), "{}: {:?}", path.display(), mesh.warnings);
        assert!(mesh.triangle_count() > 0);
    }
    // Class names come from the generated taxonomy.json.
    for class in synth::classes() {
        assert_eq!(tree.class_name(class.synset), class.name);
    }
}
