package server

// RouteClass is the admission class of a route ("high", "low" or
// "exempt") and whether it is chosen on purpose: routeClasses names it (or
// its path), or it is a preflight.
func RouteClass(method, route string) (class string, listed bool) {
	_, byMethod := routeClasses[method+" "+route]
	_, byPath := routeClasses[route]
	return classify(method, route).String(), byMethod || byPath || method == "OPTIONS"
}
