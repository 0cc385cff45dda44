from spiraltorch.cli.main import main

raise SystemExit(main())
