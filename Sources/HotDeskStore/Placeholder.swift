enum _HotDeskStorePlaceholder {}
