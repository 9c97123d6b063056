namespace Mixer.Proxy;

/// <summary>
/// How Istio 1.0's proxy turns a refused Check into an HTTP answer (istio/proxy
/// <c>src/istio/utils/status.cc StatusHttpCode</c>, body <c>Status::ToString()</c>).
/// </summary>
internal static class StatusHttp
{
    private static readonly string[] s_names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    private static readonly int[] s_http = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

    /// <summary>The HTTP status for gRPC code <paramref name="code"/> (500 for a code outside the table).</summary>
    public static int HttpCode(int code) => code >= 0 && code < s_http.Length ? s_http[code] : 500;

    /// <summary>The gRPC code's name, e.g. <c>PERMISSION_DENIED</c>.</summary>
    public static string CodeName(int code) => code >= 0 && code < s_names.Length ? s_names[code] : "UNKNOWN";

    /// <summary>Istio's denial body: <c>&lt;CODE_NAME&gt;:&lt;message&gt;</c>.</summary>
    public static string Body(Google.Rpc.Status status) => CodeName(status.Code) + ":" + status.Message;
}
