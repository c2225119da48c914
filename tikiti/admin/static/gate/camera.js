// Reading QR codes from the back camera: a few frames a second through jsQR. Its 130 kB are
// fetched after the page is up (preloadDecoder), not when the camera is first opened: by
// then the network may already be gone.

const DECODER = "/admin/static/gate/vendor/jsQR.min.js";
const EVERY_MS = 150; // ~7 frames a second: enough for a held-up phone, light on a cheap CPU
const MAX_WIDTH = 480; // jsQR's time grows with pixels; a ticket QR fills much of the frame

let loading = null;

export function loadDecoder() {
  loading ||= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = DECODER;
    script.onload = () => resolve(window.jsQR);
    script.onerror = () => {
      loading = null;
      reject(new Error("could not load the QR decoder"));
    };
    document.head.append(script);
  });
  return loading;
}

export class Camera {
  constructor(video, onText) {
    this.video = video;
    this.onText = onText;
    this.stream = null;
    this.timer = 0;
    this.canvas = document.createElement("canvas");
  }

  get running() {
    return this.stream !== null;
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error("this browser gives no camera here");
    const decode = await loadDecoder();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: "environment", width: { ideal: 640 }, height: { ideal: 480 } },
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    const context = this.canvas.getContext("2d", { willReadFrequently: true });
    const tick = () => {
      if (!this.stream) return;
      this.timer = setTimeout(tick, EVERY_MS);
      const { videoWidth, videoHeight } = this.video;
      if (this.video.readyState < 2 || !videoWidth) return;
      const scale = Math.min(1, MAX_WIDTH / videoWidth);
      const width = Math.round(videoWidth * scale), height = Math.round(videoHeight * scale);
      if (this.canvas.width !== width || this.canvas.height !== height) {
        this.canvas.width = width;
        this.canvas.height = height;
      }
      context.drawImage(this.video, 0, 0, width, height);
      const image = context.getImageData(0, 0, width, height);
      const found = decode(image.data, width, height, { inversionAttempts: "dontInvert" });
      if (found?.data) this.onText(found.data);
    };
    tick();
  }

  stop() {
    clearTimeout(this.timer);
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video.srcObject = null;
  }
}
