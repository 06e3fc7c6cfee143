from redis_scaffold.cli import main

raise SystemExit(main())
