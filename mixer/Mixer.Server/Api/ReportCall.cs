using System.Buffers;
using Grpc.Core;

namespace Mixer.Server.Api;

/// <summary>
/// A <c>istio.mixer.v1.ReportRequest</c> as it came off the wire: its bytes, in a pooled buffer,
/// for <see cref="Mixer.Sdk.ReportBatch"/> to decode (which checks them; nothing is parsed here).
/// <see cref="Dispose"/> returns the buffer.
/// </summary>
internal sealed class ReportCall : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;

    private ReportCall(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    /// <summary>The request's bytes (empty once disposed): valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Payload => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, _length);

    public static ReportCall Read(DeserializationContext context)
    {
        var length = context.PayloadLength;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        context.PayloadAsReadOnlySequence().CopyTo(buffer);
        return new ReportCall(buffer, length);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }
}
