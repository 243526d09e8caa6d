"""The networks: the 1D MLP as a flat parameter layout and as an nn.Module (`mlp`), the vision
models of the image studies (`vision`) and the frozen sentence encoder of STS-B-DIR
(`text_encoder`)."""
