using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Mixer.Server.Tests;

/// <summary>
/// A Mixer client that shares no code with ours: it writes protobuf bytes by hand from the field
/// numbers of Istio's mixer/v1 protos and speaks gRPC as raw HTTP/2 frames through HttpClient. If our
/// generated code and Istio's disagreed on a field number or encoding, these tests would see it.
/// </summary>
internal sealed class HandEncodedClient(string address) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler())
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public async Task<GrpcReply> CallAsync(string method, byte[] message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{address}/istio.mixer.v1.Mixer/{method}")
        {
            Content = new ByteArrayContent(frame),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        string? Header(string name) =>
            response.TrailingHeaders.TryGetValues(name, out var t) ? t.First()
            : response.Headers.TryGetValues(name, out var h) ? h.First() : null;
        var status = int.Parse(Header("grpc-status") ?? "-1", System.Globalization.CultureInfo.InvariantCulture);
        var text = Uri.UnescapeDataString(Header("grpc-message") ?? string.Empty);
        byte[] payload = [];
        if (body.Length >= 5)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1));
            if (body.Length < 5 + length)
            {
                throw new InvalidDataException($"gRPC frame says {length} bytes, body has {body.Length}: {Convert.ToHexString(body)} (HTTP {(int)response.StatusCode})");
            }

            payload = body[5..(5 + length)];
        }
        return new GrpcReply(status, text, payload);
    }

    public void Dispose() => _http.Dispose();
}

internal sealed record GrpcReply(int Status, string Message, byte[] Payload);

/// <summary>A protobuf writer for tests: tags, varints, zigzag, fixed64, length-delimited fields.</summary>
internal sealed class Pb
{
    private readonly MemoryStream _buffer = new();

    public byte[] ToArray() => _buffer.ToArray();

    public Pb Varint(int field, ulong value)
    {
        Tag(field, 0);
        Raw(value);
        return this;
    }

    public Pb SInt32(int field, int value) => Varint(field, (uint)((value << 1) ^ (value >> 31)));

    public Pb Int64(int field, long value) => Varint(field, (ulong)value);

    public Pb Double(int field, double value)
    {
        Tag(field, 1);
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(b, value);
        _buffer.Write(b);
        return this;
    }

    public Pb Bytes(int field, byte[] value)
    {
        Tag(field, 2);
        Raw((ulong)value.Length);
        _buffer.Write(value);
        return this;
    }

    public Pb String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public Pb Message(int field, Pb inner) => Bytes(field, inner.ToArray());

    /// <summary>A map&lt;sint32, X&gt; entry: key is field 1 (zigzag), the value field 2 written by <paramref name="value"/>.</summary>
    public Pb MapEntry(int field, int key, Action<Pb> value)
    {
        var entry = new Pb().SInt32(1, key);
        value(entry);
        return Message(field, entry);
    }

    private void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

    private void Raw(ulong v)
    {
        while (v >= 0x80)
        {
            _buffer.WriteByte((byte)(v | 0x80));
            v >>= 7;
        }

        _buffer.WriteByte((byte)v);
    }
}
