from edge_all.cli.main import main

main()
