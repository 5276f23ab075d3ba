/**
 * The dashboard's stylesheet (served as /dashboard/app.css). System fonts only, no external
 * assets. Colour pairs meet WCAG AA contrast in both schemes; states carry a word, never colour
 * alone. Below 760 px the tenants table becomes one card per tenant (labels from data-label).
 */
export const DASHBOARD_CSS = `
:root{--bg:#f6f8fa;--surface:#fff;--text:#1f2328;--muted:#57606a;--border:#d0d7de;--link:#0550ae;--focus:#0969da;
--ok:#116329;--ok-bg:#dafbe1;--warn:#6f4400;--warn-bg:#fff1c2;--bad:#a40e26;--bad-bg:#ffebe9;--info:#0550ae;--info-bg:#ddf4ff;--none:#424a53;--none-bg:#eaeef2;
--spark:#0969da;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--surface:#161b22;--text:#e6edf3;--muted:#9aa4ae;--border:#30363d;--link:#79c0ff;--focus:#58a6ff;
--ok:#7ee787;--ok-bg:#0f2e1a;--warn:#f2cc60;--warn-bg:#3b2e00;--bad:#ff8e86;--bad-bg:#3d1214;--info:#79c0ff;--info-bg:#0c2d6b;--none:#c9d1d9;--none-bg:#30363d;--spark:#58a6ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
a{color:var(--link)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--surface);padding:.5rem 1rem;z-index:2}.skip:focus{left:.5rem}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.6rem 1rem;background:var(--surface);border-bottom:1px solid var(--border)}
.top h1{font-size:1.1rem;margin:0;flex:1 1 auto}.top h1 a{color:inherit;text-decoration:none}
.top nav{display:flex;gap:.75rem;align-items:center}
main{padding:1rem;max-width:96rem;margin:0 auto}
main:focus{outline:none}
h2{font-size:1.15rem;margin:.2rem 0 .8rem}h3{font-size:1rem;margin:0 0 .5rem}
.muted{color:var(--muted)}.small{font-size:.85rem}.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.85em;overflow-wrap:anywhere}
button,input,select{font:inherit;color:inherit}
button{background:var(--surface);border:1px solid var(--border);border-radius:6px;padding:.35rem .8rem;cursor:pointer;min-height:2.2rem}
button:hover{border-color:var(--muted)}button.primary{background:var(--info);border-color:var(--info);color:var(--surface);font-weight:600}
button:disabled{opacity:.6;cursor:progress}
input,select{background:var(--surface);border:1px solid var(--muted);border-radius:6px;padding:.3rem .5rem;min-height:2.2rem;max-width:100%}
label{font-weight:600;font-size:.9rem}
.badge{display:inline-block;border-radius:999px;padding:0 .55rem;font-size:.8rem;font-weight:600;line-height:1.5rem;white-space:nowrap;background:var(--none-bg);color:var(--none)}
.ok{background:var(--ok-bg);color:var(--ok)}.warn{background:var(--warn-bg);color:var(--warn)}.bad{background:var(--bad-bg);color:var(--bad)}.info{background:var(--info-bg);color:var(--info)}
.conn{font-size:.85rem}
.toolbar{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;margin-bottom:.8rem}
.panel{background:var(--surface);border:1px solid var(--border);border-radius:8px;padding:.8rem 1rem}
table.tenants{width:100%;border-collapse:collapse;background:var(--surface);border:1px solid var(--border);border-radius:8px}
.tenants caption{text-align:left;padding:.4rem .6rem}
.tenants th,.tenants td{text-align:left;padding:.5rem .6rem;border-bottom:1px solid var(--border);vertical-align:top}
.tenants thead th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);white-space:nowrap}
.tenants td .sub{display:block;font-size:.8rem;color:var(--muted)}
.tenant-link{font-weight:700;font-size:1rem;overflow-wrap:break-word}
svg.spark{display:block;margin-top:.2rem;overflow:visible}svg.spark polyline{fill:none;stroke:var(--spark);stroke-width:1.6;vector-effect:non-scaling-stroke}
svg.spark.wide{width:100%}
svg.spark line{stroke:var(--border);stroke-width:1;vector-effect:non-scaling-stroke}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem;margin-bottom:1rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .8rem;margin:0}
dl.facts dt{color:var(--muted);font-size:.9rem}dl.facts dd{margin:0;overflow-wrap:anywhere}
.big{font-size:2rem;font-weight:700;line-height:1.1}
.actions form{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;padding:.6rem 0;border-bottom:1px solid var(--border)}
.actions form:last-of-type{border-bottom:0}.actions .field{display:flex;flex-direction:column;gap:.2rem}
.check,.actions .field.check{display:inline-flex;flex-direction:row;align-items:center;gap:.4rem}.check label{font-weight:400}
.result{min-height:1.5rem;margin:.4rem 0 0}
.alert{color:var(--bad);font-weight:600;margin:.4rem 0}.alert:empty{display:none}
ol.timeline{list-style:none;margin:0;padding:0;max-height:32rem;overflow:auto}
ol.timeline li{display:grid;grid-template-columns:6.5rem 12rem 1fr;gap:.5rem;padding:.3rem 0;border-bottom:1px solid var(--border);font-size:.9rem}
ol.timeline li:first-child{animation:flash 1.2s ease-out}
@keyframes flash{from{background:var(--info-bg)}to{background:transparent}}
@media (prefers-reduced-motion:reduce){ol.timeline li:first-child{animation:none}}
dialog{border:1px solid var(--border);border-radius:8px;background:var(--surface);color:var(--text);max-width:26rem;width:calc(100% - 2rem)}
dialog::backdrop{background:rgb(0 0 0 / .45)}dialog .row{display:flex;gap:.5rem;justify-content:flex-end;margin-top:1rem}
dialog input{width:100%;margin-top:.25rem}
@media (max-width:760px){
  main{padding:.6rem}
  table.tenants,.tenants tbody,.tenants tr,.tenants td{display:block;width:100%}
  .tenants thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
  table.tenants{border:0;background:transparent}.tenants caption{display:block;padding:.2rem 0 .6rem}
  .tenants tr{background:var(--surface);border:1px solid var(--border);border-radius:8px;margin-bottom:.8rem;padding:.3rem .2rem}
  .tenants td,.tenants tbody th{display:grid;grid-template-columns:7.5rem 1fr;gap:.5rem;border:0;padding:.25rem .6rem}
  .tenants td::before,.tenants tbody th::before{content:attr(data-label);color:var(--muted);font-size:.85rem;font-weight:600}
  ol.timeline li{grid-template-columns:5.5rem 1fr}ol.timeline li .what{grid-column:1/-1}
}
`;
