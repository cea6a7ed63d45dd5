"""Operations tooling: the Automation API driver CI runs (`python -m ops.pulumi_stack`)."""
