from inkseal.cli import main

main()
