from mlops_pipeline.cli import main

main(prog_name="mlops-pipeline")
