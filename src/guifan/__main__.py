from guifan.launch import main

main()
