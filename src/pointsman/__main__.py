from pointsman.cli import main

main()
