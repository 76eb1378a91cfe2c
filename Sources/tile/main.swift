print("tile")
