enum _HotDeskServerPlaceholder {}
