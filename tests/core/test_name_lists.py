from freezekit.core.name_lists import first_names


def test_first_names_whole_then_how_many_more():
    names = [f"layer{i}.weight" for i in range(8)]
    assert first_names(names) == "layer0.weight, layer1.weight, layer2.weight, layer3.weight, layer4.weight and 3 more"
    assert first_names(names, 3) == "layer0.weight, layer1.weight, layer2.weight and 5 more"
    assert first_names(names[:2]) == "layer0.weight, layer1.weight"
    assert first_names(["a\x1b[2Jb"]) == "a\\x1b[2Jb"  # control characters escaped, as errors.one_line does
