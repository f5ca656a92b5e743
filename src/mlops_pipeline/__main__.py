from mlops_pipeline.cli import main

main(prog_name="python -m mlops_pipeline")
